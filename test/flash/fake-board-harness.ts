/**
 * Runs `npm run flash` (tools/flash.ts cli) against a fake board: EspruinoTools'
 * own "Node Serial" device is rewired to an object that answers like an
 * Espruino console, so the real upload path (open, process.env check, prompt
 * handshake, throttled write, close) runs without hardware.
 *
 * env: FAKE_ENV      JSON the board reports as process.env
 *      FAKE_FREE     JSON the board reports as require("Flash").getFree() (default: the RAK5010 build's)
 *      FAKE_READBACK the SHA-256 the board's installer reads back from the slot (default: the one it was sent)
 *      FAKE_AFTER    text the board prints after load() (e.g. an Uncaught error)
 *      FAKE_CAPTURE  file that receives every byte the tool sent, one char per byte
 * Usage: tsx test/flash/fake-board-harness.ts <flash options, with --port fakeboard>
 */
import * as fs from "fs";
import { cli } from "../../tools/flash";

interface Device {
  name: string;
  getPorts(cb: (ports: { path: string; description: string }[], instant: boolean) => void): void;
  open(port: string, opened: (info: unknown) => void, receive: (buf: ArrayBuffer) => void, closed: () => void): void;
  write(data: string, cb: () => void): void;
  close(): void;
}

const env = process.env.FAKE_ENV || "{}";
const after = process.env.FAKE_AFTER || "";
const free = process.env.FAKE_FREE || JSON.stringify([{ addr: 0x81000, length: 0x61000 }]);
let committed = { length: "", sha: "", sent: "" };
const capture = process.env.FAKE_CAPTURE as string;
let received = "";
let pending = "";

console.log = () => undefined; // EspruinoTools' loader is chatty; the tool silences it the same way
// eslint-disable-next-line @typescript-eslint/no-var-requires
require("espruino").init(() => {
  const E = (globalThis as unknown as { Espruino: { Core: { Serial: { devices: Device[] } } } }).Espruino;
  const dev = E.Core.Serial.devices.find((d) => d.name === "Node Serial");
  if (!dev) throw new Error("EspruinoTools has no Node Serial device");
  let receive: (buf: ArrayBuffer) => void = () => undefined;
  let closed: () => void = () => undefined;
  const reply = (text: string) =>
    setImmediate(() => receive(new Uint8Array(Buffer.from(text, "latin1")).buffer));
  dev.getPorts = (cb) => cb([{ path: "fakeboard", description: "fake Espruino console" }], true);
  dev.open = (port, opened, rx, onClose) => {
    receive = rx;
    closed = onClose;
    setImmediate(() => opened({ portName: port }));
  };
  dev.write = (data, cb) => {
    received += data;
    pending += data;
    // Answer each complete line the way the console does: a result, then a prompt.
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      const commit = /KEYBOX_INSTALLER\.commit\((\d+),"([0-9a-f]+)"\)/.exec(line);
      if (commit) committed = { length: commit[1], sha: process.env.FAKE_READBACK || commit[2], sent: commit[2] };
      if (line.indexOf("JSON.stringify(process.env)") >= 0) reply("< <<" + env + ">> >\r\n>");
      else if (line.indexOf('JSON.stringify(require("Flash").getFree())') >= 0) reply("< <<" + free + ">> >\r\n>");
      else if (line.indexOf("KEYBOX_INSTALLER.done()") >= 0) {
        // What hal/espruino/installer.ts prints, for a slot that reads back as FAKE_READBACK says.
        const why = `slot 0 reads back with SHA-256 ${committed.sha}, not ${committed.sent}`;
        reply(
          committed.sha === committed.sent
            ? `keybox install: slot 0 holds firmware version 1, ${committed.length} bytes, SHA-256 ${committed.sha} read back\r\nkeybox install: OK\r\n>`
            : `keybox install: FAILED: ${why}\r\nkeybox install: FAILED: ${why}\r\n>`,
        );
      }
      else if (/load\(\)/.test(line)) reply(after + "\r\n>");
      else reply("\r\n>");
    }
    setImmediate(cb);
  };
  dev.close = () => {
    fs.writeFileSync(capture, received, "latin1");
    setImmediate(closed);
  };
  cli(process.argv.slice(2));
});
