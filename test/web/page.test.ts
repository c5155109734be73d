/**
 * The simulator's web page in a real browser (Debian's Chromium, driven by
 * playwright-core; CI installs it from .ci/run). The simulator runs as a
 * person starts it (npm start with a state folder and free ports); the test
 * only clicks the page's own controls and reads its picture and timeline.
 * It never sleeps: it waits for what the page shows, and moves the box's
 * time with the page's time controls.
 */
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { chromium, BrowserContext, Page } from "playwright-core";
import { run as issuer } from "../../sim/issuer/main";

const ROOT = path.resolve(__dirname, "..", "..");
const TSX = path.join(ROOT, "node_modules", ".bin", "tsx");
const CHROMIUM = process.env.CHROMIUM_BIN || "/usr/bin/chromium";
const WAIT = { timeout: 45000 };

interface Sim {
  proc: ChildProcess;
  url: string;
  out: () => string;
  exited: Promise<number | null>;
}

/** npm start on dir with free ports; resolves once the banner names the page. */
function startSim(dir: string): Promise<Sim> {
  const proc = spawn(TSX, [path.join(ROOT, "sim", "desktop.ts"), "--state", dir, "--web-port", "0", "--ble-port", "0", "--mqtt-port", "0"], {
    cwd: ROOT,
    stdio: ["pipe", "pipe", "pipe"],
    // its own process group, so a failed test can end tsx and the node it runs together
    detached: true,
  });
  let text = "";
  const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      text += d.toString();
      const m = /web page: +(http:\/\/127\.0\.0\.1:\d+\/)/.exec(text);
      if (m) resolve({ proc, url: m[1], out: () => text, exited });
    };
    proc.stdout!.on("data", onData);
    proc.stderr!.on("data", onData);
    void exited.then((code) => reject(new Error("the simulator exited (" + code + "):\n" + text)));
  });
}

async function stopSim(sim: Sim): Promise<number | null> {
  sim.proc.kill("SIGINT");
  return sim.exited;
}

/** Clicks a control and waits for the page to show its answer. */
async function click(page: Page, selector: string): Promise<string> {
  await page.evaluate("document.getElementById('answer').removeAttribute('data-ok')");
  await page.click(selector);
  await page.waitForSelector("#answer[data-ok]", WAIT);
  return (await page.textContent("#answer")) || "";
}

async function command(page: Page, line: string): Promise<string> {
  await page.fill("#line", line);
  return click(page, "#prompt button");
}

/** Waits until the timeline holds an event of this type and reason. */
async function event(page: Page, type: string, reason: string): Promise<string> {
  const sel = '#timeline li[data-type="' + type + '"][data-reason="' + reason + '"]';
  await page.waitForSelector(sel, WAIT);
  return (await page.textContent(sel)) || "";
}

/** A fresh box learns the time from the network before it accepts grants: run its clock ahead from the page. */
async function online(page: Page): Promise<void> {
  await page.waitForSelector('#conn[data-state="open"]', WAIT);
  await click(page, 'button[data-cmd="time advance 1m"]');
  // "set" on a cold start, "sync" when the box kept its clock through the restart
  await page.waitForSelector('#timeline li[data-type="time"]', WAIT);
}

describe("the simulator's web page in Chromium", () => {
  let dir: string;
  let browser: BrowserContext | undefined;
  let sim: Sim | undefined;

  beforeAll(async () => {
    if (!fs.existsSync(CHROMIUM)) throw new Error("no browser at " + CHROMIUM + ": apt-get install chromium (or set CHROMIUM_BIN)");
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "keybox-web-"));
    // a new, empty profile each run (playwright passes it as --user-data-dir)
    browser = await chromium.launchPersistentContext(path.join(dir, "profile"), {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  });

  afterAll(async () => {
    if (sim && sim.proc.exitCode === null && sim.proc.pid) process.kill(-sim.proc.pid, "SIGKILL");
    if (browser) await browser.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("draws the box, follows it live, opens it with a single-use grant, and remembers the use across a restart", async () => {
    const grant = path.join(dir, "grant.kbg");
    const lines: string[] = [];
    const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) };
    expect(issuer(["mint", "--key", path.join(ROOT, "sim", "demo", "issuer.key"), "--box", "KB-DEMO01", "--uses", "1", "--out", grant], io)).toBe(0);
    const state = path.join(dir, "state");

    sim = await startSim(state);
    expect(sim.out()).toMatch(/a fresh box \(seed \d+\)/);
    const page = await browser!.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(sim.url);
    await page.waitForSelector('#latch-state[data-state="locked"]', WAIT);
    expect(await page.getAttribute("#bolt", "data-position")).toBe("1.00");
    await online(page);

    // the prompt's command set, from the page: help lists every command, a bad one answers with its usage
    const help = await command(page, "help");
    for (const name of ["lid", "key", "jam", "switch", "battery", "shake", "power", "coverage", "grant", "time", "status", "events", "help"]) expect(help).toMatch(new RegExp("^" + name + "\\b", "m"));
    expect(await command(page, "battery abc")).toMatch(/^error: usage: battery <mV>/);
    expect(await command(page, "jam at 2")).toMatch(/^error: usage: jam on\|off \| at <0\.\.1>/);

    // the world's controls act on the picture
    expect(await click(page, 'button[data-cmd="lid open"]')).toBe("lid held by the bolt");
    expect(await page.getAttribute("#lid", "data-open")).toBe("false");

    // a driver's phone presents the grant file
    await page.setInputFiles("#grant-file", grant);
    const answer = await click(page, "#present-unlock");
    expect(answer).toMatch(/decision: granted/);
    expect(answer).toMatch(/done: the box is open/);
    await page.waitForSelector('#latch-state[data-state="open"]', WAIT);
    await page.waitForSelector('#bolt[data-position="0.00"]', WAIT);
    expect(await event(page, "access", "granted")).toMatch(/"ok":true/);

    await click(page, 'button[data-cmd="lid open"]');
    await page.waitForSelector('#lid[data-open="true"]', WAIT);
    await click(page, 'button[data-cmd="key take"]');
    await page.waitForSelector('#key[data-inside="false"]', WAIT);
    expect(await event(page, "lid", "opened")).toContain('{"latch":"open"}');
    await click(page, 'button[data-cmd="key return"]');
    await click(page, 'button[data-cmd="lid close"]');
    await event(page, "key", "returned");

    // time controls: paused, the clock stands; advancing relocks the closed box
    await click(page, 'button[data-cmd="time pause"]');
    await page.waitForSelector('#clock[data-rate="0"]', WAIT);
    expect(await click(page, 'button[data-cmd="time advance 1m"]')).toMatch(/advanced 1m; box time .*, paused/);
    await page.waitForSelector('#latch-state[data-state="locked"]', WAIT);
    expect(Number(await page.getAttribute("#bolt", "data-position"))).toBeGreaterThan(0.95);
    await click(page, 'button[data-cmd="time run 1"]');
    expect(errors).toEqual([]);

    // Ctrl-C, and the same state folder again: the use is remembered
    expect(await stopSim(sim)).toBe(0);
    expect(sim.out()).toMatch(/bye: the box's state is in/);
    await page.waitForSelector('#conn[data-state="closed"]', WAIT);
    sim = await startSim(state);
    expect(sim.out()).toMatch(/restored from .* \(run 2\)/);
    await page.goto(sim.url);
    await page.waitForSelector('#latch-state[data-state="locked"]', WAIT);
    await online(page);
    await page.setInputFiles("#grant-file", grant);
    const again = await click(page, "#present-unlock");
    expect(again).toMatch(/refused: used_up/);
    expect(again).toMatch(/no uses left/);
    expect(await event(page, "access", "used_up")).toMatch(/"ok":false/);
    expect(await page.getAttribute("#latch-state", "data-state")).toBe("locked");
    expect(await stopSim(sim)).toBe(0);
  }, 180000);
});
