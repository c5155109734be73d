import { mkdtempSync, readFileSync, writeFileSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { spawnSync } from "child_process";
import { run } from "../../sim/issuer/main";
import { SimFlash } from "../../sim/hw/flash";
import { VirtualClock } from "../../sim/clock";
import { EventBus } from "../../firmware/events";
import { AccessControl } from "../../firmware/grants/access";
import { parseProvisioning } from "../../firmware/grants/provision";
import { decodeGrant } from "../../firmware/grants/codec";
import { crc32 } from "../../firmware/store/crc32";
import { T0, firmwareVerify, memo } from "./helpers";

const verify = memo(firmwareVerify);
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "keybox-issuer-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tool(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = run(argv, { out: (l) => out.push(l), err: (l) => err.push(l), now: () => T0 });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

const p = (name: string) => join(dir, name);

function box(flash: SimFlash) {
  const clock = new VirtualClock({ wallAtBoot: T0 + 30 });
  const events = new EventBus({ now: () => ({ t: Math.floor(clock.wall()), m: clock.monotonic() }) });
  const ac = new AccessControl({ flash, clock, events, crc32, verify, boxId: "KB-000001" });
  const prov = parseProvisioning(JSON.parse(readFileSync(p("prov.json"), "utf8")));
  if (typeof prov === "string") throw new Error(prov);
  expect(prov.boxId).toBe("KB-000001");
  expect(ac.provisionKeys(prov.keys)).toEqual({ ok: true });
  return ac;
}

describe("keybox-issuer", () => {
  test("keygen, provision, mint, revoke: a minted grant opens the box once, a revoked one stays refused after a reboot", () => {
    expect(tool("keygen", "--out", p("owner"), "--id", "7").code).toBe(0);
    expect(tool("keygen", "--out", p("courier"), "--id", "8").code).toBe(0);
    expect(tool("keygen", "--out", p("owner"), "--id", "7")).toMatchObject({ code: 2 });
    expect(JSON.parse(readFileSync(p("owner.pub"), "utf8"))).toMatchObject({ format: "keybox-issuer-pub/1", id: 7 });
    expect(tool("provision", "--box", "KB-000001", "--key", p("owner.pub"), "--key", p("courier.key"), "--out", p("prov.json"))).toMatchObject({ code: 0, err: "" });
    expect(JSON.parse(readFileSync(p("prov.json"), "utf8")).keys.map((k: { id: number }) => k.id)).toEqual([7, 8]);

    expect(tool("mint", "--key", p("owner.key"), "--box", "KB-000001", "--for", "2h", "--out", p("one.grant")).code).toBe(0);
    const m = tool("mint", "--key", p("courier.key"), "--box", "KB-000001", "--uses", "unlimited", "--perm", "unlock", "--id", "00000000000000aa");
    expect(m.code).toBe(0);
    const b64 = m.out.trim();
    const one = new Uint8Array(readFileSync(p("one.grant")));
    expect(one.length).toBe(96);

    const flash = new SimFlash();
    const ac = box(flash);
    expect(ac.present(one, { action: "unlock", channel: "ble" }).ok).toBe(true);
    expect(ac.present(one, { action: "unlock", channel: "ble" })).toMatchObject({ ok: false, reason: "used_up" });
    const edited = one.slice();
    edited[edited.length - 70] ^= 0x04;
    expect(ac.present(edited, { action: "unlock", channel: "ble" })).toMatchObject({ ok: false });
    const multi = new Uint8Array(Buffer.from(b64, "base64"));
    expect(ac.present(multi, { action: "unlock", channel: "ble" }).ok).toBe(true);
    expect(ac.present(multi, { action: "lock", channel: "ble" })).toMatchObject({ ok: false, reason: "permission" });

    writeFileSync(p("multi.b64"), b64 + "\n");
    expect(tool("revoke", "--key", p("owner.key"), "--box", "KB-000001", "--grant", p("multi.b64"), "--out", p("rev.bin")).code).toBe(0);
    expect(ac.applyRevocation(new Uint8Array(readFileSync(p("rev.bin"))))).toEqual({ ok: true });
    ac.close();
    flash.powerOn();
    const again = box(flash);
    expect(again.present(multi, { action: "unlock", channel: "ble" })).toMatchObject({ ok: false, reason: "revoked" });
    expect(again.present(one, { action: "unlock", channel: "ble" })).toMatchObject({ ok: false, reason: "used_up" });

    const rk = tool("revoke", "--key", p("owner.key"), "--box", "KB-000001", "--issuer-key", "8");
    expect(rk.code).toBe(0);
    expect(again.applyRevocation(new Uint8Array(Buffer.from(rk.out, "base64")))).toEqual({ ok: true });
    expect(again.issuerKey(8)).toBeUndefined();
  });

  test("mint encodes what it was asked", () => {
    const r = tool("mint", "--key", p("owner.key"), "--box", "KB-9", "--from", "2026-03-01T08:00:00Z", "--for", "1d", "--perm", "unlock,lock,admin", "--uses", "5", "--holder", p("courier.pub"), "--id", "0123456789ABCDEF");
    expect(r.code).toBe(0);
    const d = decodeGrant(new Uint8Array(Buffer.from(r.out, "base64")));
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    expect(d.grant).toMatchObject({ boxId: "KB-9", grantId: "0123456789abcdef", keyId: 7, notBefore: 1772352000, notAfter: 1772352000 + 86400, perms: 7, uses: 5 });
    const courier = JSON.parse(readFileSync(p("courier.pub"), "utf8"));
    expect(Buffer.from(d.grant.holder!).toString("hex")).toBe(courier.publicKey);
  });

  test("explain decodes and checks signatures", () => {
    const ok = tool("explain", p("one.grant"), "--provision", p("prov.json"), "--json");
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out)).toMatchObject({ kind: "grant", box: "KB-000001", keyId: 7, uses: "single use", signature: "valid (key 7)" });
    const wrongKey = JSON.parse(readFileSync(p("courier.pub"), "utf8"));
    writeFileSync(p("imposter.pub"), JSON.stringify({ ...wrongKey, id: 7 }));
    const bad = tool("explain", p("one.grant"), "--key", p("imposter.pub"));
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/INVALID for key 7/);
    expect(tool("explain", p("one.grant"), "--key", p("courier.pub")).code).toBe(1);
    expect(tool("explain", p("one.grant")).out).toMatch(/not checked/);
    const rev = tool("explain", p("rev.bin"), "--key", p("owner.pub"), "--json");
    expect(JSON.parse(rev.out)).toMatchObject({ kind: "revocation", target: "grant 00000000000000aa", signature: "valid (key 7)" });
    writeFileSync(p("junk.bin"), Buffer.from([1, 2, 3, 0xff, 0x80]));
    const junk = tool("explain", p("junk.bin"));
    expect(junk.code).toBe(2);
    expect(junk.err).toMatch(/^keybox-issuer: not a valid grant/);
  });

  test("bad input: exit code 2 and one line", () => {
    const cases: string[][] = [
      [],
      ["frobnicate"],
      ["mint", "--nope"],
      ["keygen"],
      ["keygen", "--out", p("x"), "--id", "0"],
      ["provision", "--box", "KB-1"],
      ["provision", "--box", "KB-1", "--key", p("missing.pub")],
      ["provision", "--box", "KB-1", "--key", p("owner.pub"), "--key", p("owner.key")],
      ["mint", "--key", p("owner.pub"), "--box", "KB-1"],
      ["mint", "--key", p("prov.json"), "--box", "KB-1"],
      ["mint", "--key", p("owner.key"), "--box", "bad box"],
      ["mint", "--key", p("owner.key"), "--box", "KB-1", "--uses", "0"],
      ["mint", "--key", p("owner.key"), "--box", "KB-1", "--perm", "fly"],
      ["mint", "--key", p("owner.key"), "--box", "KB-1", "--from", "yesterday"],
      ["mint", "--key", p("owner.key"), "--box", "KB-1", "--until", "-1h"],
      ["mint", "--key", p("owner.key"), "--box", "KB-1", "--for", "400d"],
      ["mint", "--key", p("owner.key"), "--box", "KB-1", "--id", "xyz"],
      ["mint", "--key", p("owner.key"), "--box", "KB-1", "--holder", "abcd"],
      ["mint", "--key", p("owner.key"), "--box", "KB-1", "--format", "binary"],
      ["revoke", "--key", p("owner.key"), "--box", "KB-1"],
      ["revoke", "--key", p("owner.key"), "--box", "KB-1", "--grant-id", "00000000000000aa"],
      ["revoke", "--key", p("owner.key"), "--box", "KB-1", "--grant", p("one.grant")],
      ["explain"],
      ["explain", p("nothing-here")],
    ];
    for (const c of cases) {
      const r = tool(...c);
      expect([c.join(" "), r.code]).toEqual([c.join(" "), 2]);
      if (c.length) expect([c.join(" "), r.err.split("\n").length, r.err.startsWith("keybox-issuer: ")]).toEqual([c.join(" "), 1, true]);
    }
  });

  test("runs as npx keybox-issuer (the bin script)", () => {
    const r = spawnSync(process.execPath, [join(__dirname, "../../sim/bin/keybox-issuer.js"), "explain", p("one.grant"), "--json"], { encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ kind: "grant" });
    const bad = spawnSync(process.execPath, [join(__dirname, "../../sim/bin/keybox-issuer.js"), "mint"], { encoding: "utf8" });
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim()).toBe("keybox-issuer: missing --key");
  });
});
