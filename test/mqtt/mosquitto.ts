import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";

/** The mosquitto binary (Debian installs it in /usr/sbin, often not on PATH), or undefined. */
export function findMosquitto(): string | undefined {
  const dirs = (process.env.PATH || "").split(path.delimiter).concat(["/usr/sbin", "/usr/local/sbin", "/sbin"]);
  for (const d of dirs) {
    const p = path.join(d, "mosquitto");
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch (e) {
      // keep looking
    }
  }
  return undefined;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect({ host: "127.0.0.1", port });
    c.once("connect", () => {
      c.destroy();
      resolve(true);
    });
    c.once("error", () => resolve(false));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A mosquitto on 127.0.0.1:<port> with persistence in a temp dir, so a
 * restart keeps sessions and queued messages. stop() is a clean SIGTERM
 * (mosquitto writes its persistence file on exit).
 */
export class Mosquitto {
  readonly dir: string;
  private proc: ChildProcess | undefined;

  constructor(readonly bin: string, readonly port: number) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-mosq-"));
    // mosquitto started as root drops to the "mosquitto" user, which must still write its log and database here
    fs.chmodSync(this.dir, 0o777);
    const conf = [
      `listener ${port} 127.0.0.1`,
      "allow_anonymous true",
      "persistence true",
      `persistence_location ${this.dir}/`,
      "autosave_interval 1",
      `log_dest file ${this.dir}/mosquitto.log`,
      "log_type all",
    ].join("\n");
    fs.writeFileSync(path.join(this.dir, "mosquitto.conf"), conf + "\n");
  }

  async start(): Promise<void> {
    const proc = spawn(this.bin, ["-c", path.join(this.dir, "mosquitto.conf")], { stdio: "ignore" });
    this.proc = proc;
    let exited = false;
    proc.once("exit", () => (exited = true));
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      if (exited) throw new Error("mosquitto exited at start; see " + this.dir + "/mosquitto.log");
      if (await canConnect(this.port)) return;
      await sleep(20);
    }
    throw new Error("mosquitto did not listen on port " + this.port + " within 5 s");
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    this.proc = undefined;
    if (!proc || proc.exitCode !== null) return;
    const done = new Promise<void>((r) => proc.once("exit", () => r()));
    proc.kill("SIGTERM");
    const timer = setTimeout(() => proc.kill("SIGKILL"), 3000);
    await done;
    clearTimeout(timer);
  }

  log(): string {
    try {
      return fs.readFileSync(path.join(this.dir, "mosquitto.log"), "utf8");
    } catch (e) {
      return "";
    }
  }

  async dispose(): Promise<void> {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
