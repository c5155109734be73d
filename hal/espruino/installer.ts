/*
 * The installer the flasher sends ahead of everything else (tools/flash.ts):
 * it runs from RAM, once, and writes the code area through the same
 * writers the simulator tests (firmware/codearea/install.ts). The upload
 * then calls it line by line: slot(length), put(offset, base64) for each
 * piece, commit(length, sha256Hex), likewise blobs(...), blobPut(...),
 * blobCheck(...), and done(). Each call says what it did on the console as
 * "keybox install: ..." lines, which the flasher reads back; after the
 * first failure every later call does nothing, so a failed install never
 * makes a slot bootable and the running firmware's slot is never touched.
 */
import { BlobWriter, hex, SlotWriter, WriterOptions } from "../../firmware/codearea/install";
import { EspruinoCodeArea } from "./codearea";

let failed: string | undefined;
let slotWriter: SlotWriter | undefined;
let blobWriter: BlobWriter | undefined;
let options: WriterOptions | undefined;

function say(line: string): void {
  console.log("keybox install: " + line);
}

function fail(why: string): void {
  if (failed === undefined) failed = why;
  say("FAILED: " + why);
}

function writerOptions(): WriterOptions {
  if (!options) {
    const c = require("crypto");
    options = {
      area: new EspruinoCodeArea(),
      sha256: function (d) {
        return new Uint8Array(c.SHA256(d));
      },
    };
  }
  return options;
}

function bytes(base64: string): Uint8Array {
  const s = atob(base64);
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
  return b;
}

function unhex(h: string): Uint8Array {
  const b = new Uint8Array(h.length / 2);
  for (let i = 0; i < b.length; i++) b[i] = parseInt(h.substr(2 * i, 2), 16);
  return b;
}

/** Picks the slot that does not hold the running firmware and erases it. */
export function slot(length: number): void {
  if (failed !== undefined) return;
  slotWriter = new SlotWriter(writerOptions());
  const why = slotWriter.begin(length);
  if (why) fail(why);
}

export function put(offset: number, base64: string): void {
  if (failed === undefined && !(slotWriter && slotWriter.put(offset, bytes(base64)))) fail("the firmware piece at " + offset + " could not be written");
}

/** Reads the body's SHA-256 back and, when it matches, writes the header that makes the slot bootable. */
export function commit(length: number, sha256: string): void {
  if (failed !== undefined || !slotWriter) return;
  const r = slotWriter.commit(length, unhex(sha256));
  if (typeof r === "string") fail(r);
  else say("slot " + r.slot + " holds firmware version " + r.version + ", " + length + " bytes, SHA-256 " + sha256 + " read back");
}

export function blobs(length: number): void {
  if (failed !== undefined) return;
  blobWriter = new BlobWriter(writerOptions());
  const why = blobWriter.begin(length);
  if (why) fail(why);
}

export function blobPut(offset: number, base64: string): void {
  if (failed === undefined && !(blobWriter && blobWriter.put(offset, bytes(base64)))) fail("the blob piece at " + offset + " could not be written");
}

export function blobCheck(length: number, sha256: string): void {
  if (failed !== undefined || !blobWriter) return;
  const why = blobWriter.check(length, unhex(sha256));
  if (why) fail(why);
  else say("blob region holds " + length + " bytes, SHA-256 " + sha256 + " read back");
}

export function done(): void {
  say(failed === undefined ? "OK" : "FAILED: " + failed);
}

export { hex };
