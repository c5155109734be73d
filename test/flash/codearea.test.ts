/**
 * The code area in the simulator: NOR flash as the nRF52840 has it, the
 * layout placed from the top of the free flash down, the slot writer the
 * flasher and later updates use, the loader's choice of slot on every path
 * (both valid, one corrupt, both corrupt, a slot erased half-way) and the
 * blob region where native code and tables are found by name and hash.
 */
import { createHash } from "crypto";
import { SimCodeArea, RAK5010_FREE } from "../../sim/hw/codearea";
import { codeAreaBytes, layoutFor, parseSlotHeader, PAGE_BYTES, SLOT_HEADER_BYTES, SLOT_PAGES } from "../../firmware/codearea/layout";
import { pickSlot } from "../../firmware/codearea/boot";
import { BlobWriter, SlotWriter } from "../../firmware/codearea/install";
import { BLOB_DATA, BLOB_NATIVE, encodeBlob, findBlob, listBlobs } from "../../firmware/codearea/blobs";

const sha256 = (d: Uint8Array) => new Uint8Array(createHash("sha256").update(d).digest());
const bytes = (s: string) => new Uint8Array(Buffer.from(s, "latin1"));

/** Installs body as the flasher does, in 1 KiB pieces. */
function install(area: SimCodeArea, body: Uint8Array): { slot: number; version: number } {
  const w = new SlotWriter({ area, sha256 });
  expect(w.begin(body.length)).toBeUndefined();
  for (let at = 0; at < body.length; at += 1024) expect(w.put(at, body.subarray(at, at + 1024))).toBe(true);
  const r = w.commit(body.length, sha256(body));
  if (typeof r === "string") throw new Error(r);
  return r;
}

function boot(area: SimCodeArea): { choice: ReturnType<typeof pickSlot>; log: string[]; body?: string } {
  const log: string[] = [];
  const choice = pickSlot({ area, sha256, log: (l) => log.push(l) });
  return { choice, log, body: choice && Buffer.from(area.map(choice.addr, choice.length)).toString("latin1") };
}

describe("SimCodeArea: NOR flash", () => {
  test("pages erase to 0xFF, writes only clear bits, whole words at word addresses, inside the free range", () => {
    const a = new SimCodeArea();
    const p = RAK5010_FREE.start + PAGE_BYTES;
    expect(a.read(p, 8)).toEqual(new Uint8Array(8).fill(0xff));
    expect(a.write(p, new Uint8Array([0x0f, 0xf0, 0x55, 0xaa]))).toBe(true);
    expect(a.write(p, new Uint8Array([0xf0, 0xff, 0xff, 0x00]))).toBe(true);
    expect(Array.from(a.read(p, 4))).toEqual([0x00, 0xf0, 0x55, 0x00]);
    expect(a.write(p + 2, new Uint8Array(4))).toBe(false);
    expect(a.write(p, new Uint8Array(3))).toBe(false);
    expect(a.write(RAK5010_FREE.start - 4, new Uint8Array(4))).toBe(false);
    expect(a.write(RAK5010_FREE.end - 4, new Uint8Array(8))).toBe(false);
    expect(a.erasePage(p + 4)).toBe(false);
    expect(a.erasePage(RAK5010_FREE.end)).toBe(false);
    const view = a.map(p, 4);
    expect(a.erasePage(p)).toBe(true);
    // A mapped view points into the flash: it sees the erase.
    expect(Array.from(view)).toEqual([0xff, 0xff, 0xff, 0xff]);
    expect(a.erases[p]).toBe(1);
  });
});

describe("code area layout", () => {
  test("two slots from the top of the RAK5010's free flash down, then the blob region, then the journal pool, with spare below", () => {
    const l = layoutFor(RAK5010_FREE);
    if (typeof l === "string") throw new Error(l);
    expect(l.top).toBe(0xe2000);
    expect(l.slots).toEqual([0xe2000 - SLOT_PAGES * PAGE_BYTES, 0xe2000 - 2 * SLOT_PAGES * PAGE_BYTES]);
    expect(l.blobs + l.blobBytes).toBe(l.slots[1]);
    expect(l.pool + l.poolBytes).toBe(l.blobs);
    expect(l.bottom).toBe(l.pool);
    expect(l.bottom - RAK5010_FREE.start).toBe(0x61000 - codeAreaBytes());
    expect(l.bottom - RAK5010_FREE.start).toBeGreaterThanOrEqual(0);
  });

  test("a free range too small for it is refused with the numbers", () => {
    const start = 0xe2000 - codeAreaBytes() + PAGE_BYTES;
    expect(layoutFor({ start, end: 0xe2000 })).toBe(
      `the code area needs ${codeAreaBytes()} bytes of free flash below 0xe2000, the interpreter leaves ${codeAreaBytes() - PAGE_BYTES} (from 0x${start.toString(16)})`,
    );
    expect(layoutFor(undefined)).toMatch(/reports no free flash/);
  });
});

describe("slots: install and boot", () => {
  const A = bytes("print('firmware A');".repeat(300));
  const B = bytes("print('firmware B');".repeat(200) + "//");

  test("the first install goes to slot 0 as version 1 and boots", () => {
    const a = new SimCodeArea();
    expect(install(a, A)).toEqual({ slot: 0, version: 1 });
    const b = boot(a);
    expect(b.choice).toMatchObject({ slot: 0, version: 1, length: A.length });
    expect(b.body).toBe(Buffer.from(A).toString("latin1"));
  });

  test("both slots valid: the newest boots; the next install replaces the older and keeps the running one", () => {
    const a = new SimCodeArea();
    install(a, A);
    expect(install(a, B)).toEqual({ slot: 1, version: 2 });
    expect(boot(a).choice).toMatchObject({ slot: 1, version: 2 });
    expect(install(a, A)).toEqual({ slot: 0, version: 3 });
    const b = boot(a);
    expect(b.choice).toMatchObject({ slot: 0, version: 3 });
    expect(b.log).toEqual([]);
  });

  test("the newest slot corrupt (one bit of its body): the older one boots, and the log says why", () => {
    const a = new SimCodeArea();
    install(a, A);
    install(a, B);
    const l = layoutFor(a.freeRange()) as { slots: number[] };
    const at = l.slots[1] + SLOT_HEADER_BYTES + 100;
    const word = a.read(at, 4);
    word[1] &= word[1] - 1; // flash can only lose bits: the lowest set bit goes
    expect(a.write(at, word)).toBe(true);
    const b = boot(a);
    expect(b.choice).toMatchObject({ slot: 0, version: 1 });
    expect(b.body).toBe(Buffer.from(A).toString("latin1"));
    expect(b.log).toEqual(["slot 1 passed over: firmware version 2 does not match its SHA-256"]);
  });

  test("both corrupt: nothing boots, every slot is named, and the flash is left as it was", () => {
    const a = new SimCodeArea();
    install(a, A);
    install(a, B);
    const l = layoutFor(a.freeRange()) as { slots: number[] };
    for (const s of l.slots) expect(a.write(s + SLOT_HEADER_BYTES + 8, new Uint8Array(4))).toBe(true);
    const before = a.read(l.slots[1], 2 * SLOT_PAGES * PAGE_BYTES);
    const programmed = a.programmed;
    const b = boot(a);
    expect(b.choice).toBeUndefined();
    expect(b.log).toEqual([
      "slot 1 passed over: firmware version 2 does not match its SHA-256",
      "slot 0 passed over: firmware version 1 does not match its SHA-256",
      "no firmware can boot: no slot holds an intact firmware; the box stays as it is until npm run flash installs one",
    ]);
    expect(a.read(l.slots[1], 2 * SLOT_PAGES * PAGE_BYTES)).toEqual(before);
    expect(a.programmed).toBe(programmed);
  });

  test("a slot erased half-way (a power cut during the next install's erase): the other boots", () => {
    const big = bytes("x".repeat(20000));
    for (const pagesErased of [1, 3, 5]) {
      const a = new SimCodeArea();
      install(a, big);
      install(a, B);
      // Installing again erases slot 0 (the older) page by page; the power fails after some pages.
      const w = new SlotWriter({ area: a, sha256 });
      a.cutAfter(pagesErased);
      expect(() => w.begin(A.length)).toThrow(/power loss/);
      a.powerOn();
      const b = boot(a);
      expect(b.choice).toMatchObject({ slot: 1, version: 2 });
      expect(b.log).toEqual(["slot 0 passed over: erased"]);
    }
    // Erased from the other end: the header stays but the body's tail is gone.
    const a = new SimCodeArea();
    install(a, big);
    install(a, B);
    const l = layoutFor(a.freeRange()) as { slots: number[] };
    for (let p = 2; p < 5; p++) a.erasePage(l.slots[0] + p * PAGE_BYTES);
    expect(boot(a).choice).toMatchObject({ slot: 1 });
    for (let p = 0; p < 2; p++) a.erasePage(l.slots[1] + p * PAGE_BYTES);
    expect(boot(a).choice).toBeUndefined();
  });

  test("a power cut while the body or the header is written leaves the running firmware booting", () => {
    const a0 = new SimCodeArea();
    install(a0, A);
    const start = a0.programmed;
    install(a0, B);
    const total = a0.programmed - start;
    // The header's last 16 bytes are 0xFF: the slot is complete once byte 47 (the hash's last) is.
    for (const cut of [0, 1, 1000, total - 64, total - 17]) {
      const a = new SimCodeArea();
      install(a, A);
      a.cutAfter(cut + SLOT_PAGES); // the erase of the slot's pages, then cut bytes programmed
      expect(() => install(a, B)).toThrow(/power loss/);
      a.powerOn();
      expect(boot(a).choice).toMatchObject({ slot: 0, version: 1 });
    }
  });

  test("commit refuses a body that does not read back as expected, and the slot stays unbootable", () => {
    const a = new SimCodeArea();
    install(a, A);
    const w = new SlotWriter({ area: a, sha256 });
    expect(w.begin(B.length)).toBeUndefined();
    expect(w.put(0, B.subarray(0, 1024))).toBe(true); // the rest never arrives
    const r = w.commit(B.length, sha256(B));
    expect(r).toMatch(/^slot 1 reads back with SHA-256 [0-9a-f]{64}, not [0-9a-f]{64}$/);
    expect(parseSlotHeader(a.read((layoutFor(a.freeRange()) as { slots: number[] }).slots[1], SLOT_HEADER_BYTES), 1 << 20)).toBe("erased");
    expect(boot(a).choice).toMatchObject({ slot: 0 });
  });

  test("a firmware larger than a slot is refused with the numbers", () => {
    const w = new SlotWriter({ area: new SimCodeArea(), sha256 });
    expect(w.begin(SLOT_PAGES * PAGE_BYTES)).toBe(`the firmware is ${SLOT_PAGES * PAGE_BYTES} bytes, a slot holds ${SLOT_PAGES * PAGE_BYTES - 64}`);
  });
});

describe("blob region", () => {
  function region(area: SimCodeArea, entries: Uint8Array[]): void {
    const image = Buffer.concat(entries.map((e) => Buffer.from(e)));
    const w = new BlobWriter({ area, sha256 });
    expect(w.begin(image.length)).toBeUndefined();
    for (let at = 0; at < image.length; at += 1024) expect(w.put(at, new Uint8Array(image.subarray(at, at + 1024)))).toBe(true);
    expect(w.check(image.length, sha256(new Uint8Array(image)))).toBeUndefined();
  }
  const code = new Uint8Array(1001).map((_, i) => (i * 7) & 0xff);
  const table = new Uint8Array(6120).map((_, i) => (i * 13) & 0xff);

  test("a blob is found by name, mapped in place at a 16-byte boundary, once its hash checks out", () => {
    const a = new SimCodeArea();
    region(a, [encodeBlob(BLOB_NATIVE, "ed25519", code, sha256(code)), encodeBlob(BLOB_DATA, "edB", table, sha256(table))]);
    const l = layoutFor(a.freeRange()) as { blobs: number; blobBytes: number };
    expect(listBlobs((x, n) => a.read(x, n), l.blobs, l.blobBytes).map((e) => [e.name, e.kind, e.length])).toEqual([["ed25519", 1, 1001], ["edB", 2, 6120]]);
    const n = findBlob({ area: a, name: "ed25519", sha256 });
    if (typeof n === "string") throw new Error(n);
    expect(n.kind).toBe(BLOB_NATIVE);
    expect(n.addr % 16).toBe(0);
    expect(n.bytes).toEqual(code);
    const t = findBlob({ area: a, name: "edB", sha256 });
    expect(typeof t !== "string" && t.bytes).toEqual(table);
    expect(findBlob({ area: a, name: "edK1", sha256 })).toBe("missing");
  });

  test("a corrupt body is refused; an empty region and a code area that does not fit find nothing", () => {
    const a = new SimCodeArea();
    region(a, [encodeBlob(BLOB_NATIVE, "ed25519", code, sha256(code))]);
    const n = findBlob({ area: a, name: "ed25519", sha256 }) as { addr: number };
    const w = a.read(n.addr + 500 - (500 % 4), 4);
    w[0] &= 0x7f;
    w[1] &= 0x7f;
    a.write(n.addr + 500 - (500 % 4), w);
    expect(findBlob({ area: a, name: "ed25519", sha256 })).toBe("corrupt");
    expect(findBlob({ area: new SimCodeArea(), name: "ed25519", sha256 })).toBe("missing");
    expect(findBlob({ area: new SimCodeArea({ start: 0xd0000 }), name: "ed25519", sha256 })).toBe("no_area");
  });
});
