/**
 * An installed box for the tests that run the flashed bundle itself (the
 * loader in Storage, the firmware in a slot of the code area): its Storage
 * files as a time-synchronised box has them, the bolt's mechanics the fake
 * board lacks, and a phone that presents grants over the fake NRF.
 */
import { createHash } from "crypto";
import { SimBox } from "../../sim/box";
import { crc32 } from "../../sim/hw/system";
import { VirtualClock } from "../../sim/clock";
import { CodeArea } from "../../hal/codearea";
import { CodeAreaLayout, layoutFor } from "../../firmware/codearea/layout";
import { BASE_TABLE_FILE, keyTableFile, tableFile } from "../../firmware/keytables";
import { prepareBase, prepareKey } from "../../firmware/crypto/ed25519";
import { BlobWriter, SlotWriter } from "../../firmware/codearea/install";
import { encodeFrames, MAX_FRAMED, Reassembler } from "../../firmware/ble/framing";
import { LAYOUT, MSG_UNLOCK, parseResponse, requestMessage, Response } from "../../firmware/ble/protocol";
import { PERM_UNLOCK } from "../../firmware/grants/codec";
import { mint, T0, TestKey } from "../grants/helpers";

export const sha256 = (d: Uint8Array) => new Uint8Array(createHash("sha256").update(d).digest());

/** The bolt's mechanics, which the fake board lacks: it follows the H-bridge after 300 ms of travel. */
export const MECHANICS = [
  "var __dw = digitalWrite;",
  "digitalWrite = function (pin, v) { __dw(pin, v);",
  "  if (pin === 'D19' && v) setTimeout(function () { __hw.setPin('D34', 1); }, 300);",
  "  if (pin === 'D20' && v) setTimeout(function () { __hw.setPin('D34', 0); }, 300); };",
].join("\n");

export interface InstalledBox {
  /** Storage's files. */
  files: { [name: string]: Uint8Array };
  /** The code area's journal pool as the box left it: its records, the time it learned among them. */
  pool: Uint8Array;
  /** JavaScript that sets the RTC and makes the phone's link encrypted. */
  setup: string;
}

/** A simulated box provisioned with one owner key, booted, and given half a minute to learn the time. */
export function bootedBox(boxId: string, owner: TestKey): SimBox {
  const provisioning = JSON.stringify({ format: "keybox-provision/1", boxId, keys: [{ id: owner.id, publicKey: Buffer.from(owner.publicKey).toString("hex") }] });
  const box = new SimBox({ config: { boxId }, provisioning, now: T0 + 3600 });
  box.boot();
  box.run(30_000);
  return box;
}

/** An installed, time-synchronised box; with tables, 6-tooth ones in Storage as the flasher's --tables reads them (the blob region holds two). */
export function installedBox(box: string, owner: TestKey, tables: boolean): InstalledBox {
  const provisioning = JSON.stringify({ format: "keybox-provision/1", boxId: box, keys: [{ id: owner.id, publicKey: Buffer.from(owner.publicKey).toString("hex") }] });
  const sim = new SimBox({ config: { boxId: box }, provisioning, now: T0 + 3600, flashCapacity: 200 * 1024 });
  if (tables) {
    sim.install(BASE_TABLE_FILE, tableFile(prepareBase(6)!, crc32));
    sim.install(keyTableFile(owner.id), tableFile(prepareKey(owner.publicKey, 6)!, crc32));
  }
  sim.boot();
  sim.run(30_000);
  if (!sim.events.some((e) => e.type === "time" && e.reason === "set")) throw new Error("the sim box never learned the time");
  const rtc = Math.floor(sim.clock.wall()) + 60;
  sim.close();
  const files = sim.flash.snapshot();
  files["keybox.json"] = new Uint8Array(Buffer.from(JSON.stringify({ boxId: box })));
  const l = layoutFor(sim.codeArea.freeRange()) as CodeAreaLayout;
  return { files, pool: sim.codeArea.read(l.pool, l.poolBytes), setup: ["setTime(" + rtc + ");", "NRF.getSecurityStatus = function () { return { connected: true, encrypted: true }; };"].join("\n") };
}

/** JavaScript that writes the files to Storage in one go (for the sandbox). */
export function storageScript(files: { [name: string]: Uint8Array }): string {
  const lines = Object.keys(files).map((name) => "S.write(" + JSON.stringify(name) + ", atob(" + JSON.stringify(Buffer.from(files[name]).toString("base64")) + "));");
  return ["var S = require('Storage');", ...lines].join("\n");
}

/**
 * What npm run flash puts in the code area: the firmware in a slot, then the
 * blob region's image (blob entries back to back) when given; and the
 * box's journal pool as it left it.
 */
export function installCodeArea(area: CodeArea, code: string, pool: Uint8Array, blobImage?: Uint8Array): void {
  const l = layoutFor(area.freeRange()) as CodeAreaLayout;
  for (let at = 0; at < pool.length; at += area.pageBytes) {
    const page = pool.subarray(at, at + area.pageBytes);
    if (page.every((x) => x === 0xff)) continue;
    if (!area.erasePage(l.pool + at) || !area.write(l.pool + at, new Uint8Array(page))) throw new Error("pool page not written");
  }
  const body = new Uint8Array(Buffer.from(code, "latin1"));
  const w = new SlotWriter({ area, sha256 });
  if (w.begin(body.length)) throw new Error("no slot for the firmware");
  for (let at = 0; at < body.length; at += 1024) if (!w.put(at, body.subarray(at, at + 1024))) throw new Error("slot write failed");
  if (typeof w.commit(body.length, sha256(body)) !== "object") throw new Error("slot not committed");
  if (!blobImage) return;
  const b = new BlobWriter({ area, sha256 });
  if (b.begin(blobImage.length)) throw new Error("no blob region");
  for (let at = 0; at < blobImage.length; at += 1024) if (!b.put(at, blobImage.subarray(at, at + 1024))) throw new Error("blob write failed");
  if (b.check(blobImage.length, sha256(blobImage))) throw new Error("blob region not read back");
}

/**
 * After boot, for each request: a phone connects, writes the frames, waits
 * 5 s and leaves; 40 s pass (the box relocks a lid never opened). Then the
 * notifications and the motor pins are reported.
 */
export function phoneScript(requests: Uint8Array[][]): string {
  const svc = JSON.stringify(LAYOUT.service);
  const req = JSON.stringify(LAYOUT.request);
  const resp = JSON.stringify(LAYOUT.response);
  const visit = (frames: Uint8Array[]) => [
    "__hw.nrf.handlers.connect.forEach(function (cb) { cb(); });",
    "__hw.advance(100);",
    "var W = __hw.nrf.services[" + svc + "][" + req + "].onWrite;",
    ...frames.map((f) => "W({ data: new Uint8Array(" + JSON.stringify(Array.from(f)) + ").buffer });"),
    "__hw.advance(5000);",
    "__hw.nrf.handlers.disconnect.forEach(function (cb) { cb(19); });",
    "__hw.advance(40000);",
  ];
  return [
    "__hw.advance(100);",
    ...requests.flatMap(visit),
    "var out = [];",
    "__hw.nrf.updates.forEach(function (u) { var c = u[" + svc + "] && u[" + svc + "][" + resp + "]; if (c && c.notify) { var a = []; for (var i = 0; i < c.value.length; i++) a.push(c.value[i]); out.push(a); } });",
    "print('NOTIFY ' + JSON.stringify(out));",
    "print('MOTOR ' + JSON.stringify(__hw.writes.filter(function (w) { return w.pin === 'D19' || w.pin === 'D20'; }).map(function (w) { return w.pin + '=' + w.value; })));",
  ].join("\n");
}

/** The phone's answers and the motor pins' writes, from what phoneScript printed. */
export function responses(printed: string): { answers: Response[]; motor: string[] } {
  const notify = JSON.parse(/NOTIFY (.*)/.exec(printed)![1]) as number[][];
  const motor = JSON.parse(/MOTOR (.*)/.exec(printed)![1]) as string[];
  const rx = new Reassembler({ clock: new VirtualClock(), crc32, maxBytes: MAX_FRAMED, timeoutMs: 5000, onTimeout: () => undefined });
  const answers: Response[] = [];
  for (const f of notify) {
    const r = rx.push(new Uint8Array(f));
    if (r && typeof r !== "string") answers.push(parseResponse(r));
  }
  return { answers, motor };
}

export const reasons = (answers: Response[]) => answers.filter((r) => r.type === "result").map((r) => (r as { reason: string }).reason);

/** A single-use unlock grant for box, valid for a day from T0. */
export const unlockGrant = (owner: TestKey, box: string, grantId = "000000000000abcd") =>
  mint(owner, { boxId: box, grantId, notBefore: T0, notAfter: T0 + 86400, perms: PERM_UNLOCK, uses: 1 });

/** The grant's unlock request as BLE frames. */
export const unlockFrames = (g: Uint8Array, tag = 1) => encodeFrames(requestMessage(MSG_UNLOCK, g), tag, crc32);
