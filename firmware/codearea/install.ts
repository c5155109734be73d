import { CodeArea } from "../../hal/codearea";
import { pickSlot } from "./boot";
import { CodeAreaLayout, encodeSlotHeader, layoutFor, parseSlotHeader, sameBytes, SLOT_HEADER_BYTES } from "./layout";

export interface WriterOptions {
  area: CodeArea;
  sha256: (data: Uint8Array) => Uint8Array;
}

function eraseRange(area: CodeArea, start: number, bytes: number): string | undefined {
  for (let a = start; a < start + bytes; a += area.pageBytes) if (!area.erasePage(a)) return "page 0x" + a.toString(16) + " could not be erased";
  return undefined;
}

/**
 * Writes a firmware into one slot of the code area, in pieces small enough
 * for the board's RAM: begin() picks the slot that does not hold the newest
 * bootable firmware (that one stays as the fallback) and erases it; put()
 * programs the body piece by piece; commit() reads the body's SHA-256 back
 * from flash and only when it matches programs the header, which is what
 * makes the slot bootable, with the next firmware version. A power cut at
 * any point leaves the other slot as it was. Used by the flasher's upload
 * on the board and by the simulator.
 */
export class SlotWriter {
  private readonly area: CodeArea;
  private readonly sha256: (data: Uint8Array) => Uint8Array;
  private layout: CodeAreaLayout | undefined;
  private slot = -1;
  private version = 0;

  constructor(o: WriterOptions) {
    this.area = o.area;
    this.sha256 = o.sha256;
  }

  /** Chooses and erases the slot; a sentence with the numbers when the code area does not fit or the body would not. */
  begin(length: number): string | undefined {
    const layout = layoutFor(this.area.freeRange());
    if (typeof layout === "string") return layout;
    if (length > layout.slotBytes - SLOT_HEADER_BYTES)
      return "the firmware is " + length + " bytes, a slot holds " + (layout.slotBytes - SLOT_HEADER_BYTES);
    this.layout = layout;
    let newest = 0;
    for (let i = 0; i < layout.slots.length; i++) {
      const h = parseSlotHeader(this.area.read(layout.slots[i], SLOT_HEADER_BYTES), layout.slotBytes);
      if (typeof h !== "string" && h.version > newest) newest = h.version;
    }
    const running = pickSlot({ area: this.area, sha256: this.sha256, log: function () {} });
    this.slot = running && running.slot === 0 ? 1 : 0;
    this.version = newest + 1;
    return eraseRange(this.area, layout.slots[this.slot], layout.slotBytes);
  }

  /** Programs a piece of the body at offset (a multiple of 4; the last piece is padded with 0xFF to whole words). */
  put(offset: number, piece: Uint8Array): boolean {
    if (!this.layout || offset % 4) return false;
    let data = piece;
    if (data.length % 4) {
      data = new Uint8Array(Math.ceil(piece.length / 4) * 4);
      for (let i = 0; i < data.length; i++) data[i] = i < piece.length ? piece[i] : 0xff;
    }
    if (offset + data.length > this.layout.slotBytes - SLOT_HEADER_BYTES) return false;
    return this.area.write(this.layout.slots[this.slot] + SLOT_HEADER_BYTES + offset, data);
  }

  /** Makes the slot bootable once the body read back from flash has the expected SHA-256; else says what was read. */
  commit(length: number, sha256: Uint8Array): { slot: number; version: number } | string {
    if (!this.layout) return "begin() was not called";
    const start = this.layout.slots[this.slot];
    const got = this.sha256(this.area.map(start + SLOT_HEADER_BYTES, length));
    if (!sameBytes(got, sha256)) return "slot " + this.slot + " reads back with SHA-256 " + hex(got) + ", not " + hex(sha256);
    if (!this.area.write(start, encodeSlotHeader({ version: this.version, length: length, sha256: sha256 }))) return "the header could not be written";
    return { slot: this.slot, version: this.version };
  }
}

export function hex(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += (b[i] < 16 ? "0" : "") + b[i].toString(16);
  return s;
}

/**
 * Writes the blob region (firmware/codearea/blobs.ts) as one image made on
 * the host: begin() erases it, put() programs pieces, check() reads the
 * image's SHA-256 back. Each entry carries its own hash as well, which is
 * what findBlob trusts.
 */
export class BlobWriter {
  private readonly o: WriterOptions;
  private layout: CodeAreaLayout | undefined;

  constructor(o: WriterOptions) {
    this.o = o;
  }

  begin(length: number): string | undefined {
    const layout = layoutFor(this.o.area.freeRange());
    if (typeof layout === "string") return layout;
    if (length > layout.blobBytes) return "the blobs take " + length + " bytes, the blob region holds " + layout.blobBytes;
    this.layout = layout;
    return eraseRange(this.o.area, layout.blobs, layout.blobBytes);
  }

  put(offset: number, piece: Uint8Array): boolean {
    if (!this.layout || offset % 4 || piece.length % 4 || offset + piece.length > this.layout.blobBytes) return false;
    return this.o.area.write(this.layout.blobs + offset, piece);
  }

  check(length: number, sha256: Uint8Array): string | undefined {
    if (!this.layout) return "begin() was not called";
    const got = this.o.sha256(this.o.area.map(this.layout.blobs, length));
    return sameBytes(got, sha256) ? undefined : "the blob region reads back with SHA-256 " + hex(got) + ", not " + hex(sha256);
  }
}
