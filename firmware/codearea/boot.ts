import { CodeArea } from "../../hal/codearea";
import { layoutFor, parseSlotHeader, sameBytes, SLOT_HEADER_BYTES, SlotHeader } from "./layout";

export interface BootChoice {
  slot: number;
  version: number;
  /** Address and length of the body to evaluate. */
  addr: number;
  length: number;
}

/**
 * The slot to boot: the one with the highest firmware version whose header
 * parses and whose body matches its SHA-256; the next one when it does not.
 * Every slot passed over is logged with the reason; undefined when none can
 * boot. Reads only: the box is left as it is (the latch is never touched).
 */
export function pickSlot(o: { area: CodeArea; sha256: (data: Uint8Array) => Uint8Array; log: (line: string) => void }): BootChoice | undefined {
  const layout = layoutFor(o.area.freeRange());
  if (typeof layout === "string") {
    o.log("no firmware can boot: " + layout);
    return undefined;
  }
  const found: Array<{ slot: number; header: SlotHeader }> = [];
  for (let i = 0; i < layout.slots.length; i++) {
    const h = parseSlotHeader(o.area.read(layout.slots[i], SLOT_HEADER_BYTES), layout.slotBytes);
    if (typeof h === "string") o.log("slot " + i + " passed over: " + h);
    else found.push({ slot: i, header: h });
  }
  found.sort(function (a, b) {
    return b.header.version - a.header.version;
  });
  for (let i = 0; i < found.length; i++) {
    const f = found[i];
    const addr = layout.slots[f.slot] + SLOT_HEADER_BYTES;
    if (sameBytes(o.sha256(o.area.map(addr, f.header.length)), f.header.sha256))
      return { slot: f.slot, version: f.header.version, addr: addr, length: f.header.length };
    o.log("slot " + f.slot + " passed over: firmware version " + f.header.version + " does not match its SHA-256");
  }
  o.log("no firmware can boot: no slot holds an intact firmware; the box stays as it is until npm run flash installs one");
  return undefined;
}
