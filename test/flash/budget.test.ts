/**
 * The two budgets the build prints and the flasher enforces. Storage holds
 * what the owner installs: the loader, the configuration and provisioning,
 * each file at the size Espruino's Storage charges (32-byte header, data in
 * 4-byte words). The code area holds two slots, the blob region (64-byte
 * headers, bodies in 16-byte steps) and the journal pool, placed from the
 * top of the board's free flash down.
 */
import { blobCost, codeAreaBudget, fileCost, formatBudget, poolPages, slotRoom, storageBudget } from "../../tools/budget";
import { firmwareJournals } from "../../firmware/storage-plan";
import { BLOB_PAGES, codeAreaBytes, POOL_PAGES, SLOT_PAGES } from "../../firmware/codearea/layout";

const RAK_FREE = { start: 0x81000, end: 0xe2000 };

describe("Storage budget", () => {
  test("a file costs its header and its data rounded up to words", () => {
    expect(fileCost(0)).toBe(32);
    expect(fileCost(1)).toBe(36);
    expect(fileCost(4)).toBe(36);
    expect(fileCost(1025)).toBe(32 + 1028);
  });

  test("adds the loader and the owner's files, nothing the firmware writes: no firmware, no tables, no journals", () => {
    const b = storageBudget({ loader: 2901, settingsFiles: [600, 397] }, 81920, "RAK5010");
    const by = (re: RegExp) => b.lines.filter((l) => re.test(l.what))[0].bytes;
    expect(b.lines.map((l) => l.what.split(" ")[0])).toEqual(["loader", "configuration"]);
    expect(by(/^loader/)).toBe(32 + 2904);
    expect(by(/configuration/)).toBe(632 + 432);
    expect(b.total).toBe(2936 + 1064);
    expect(b.fits).toBe(true);
    expect(formatBudget(b)).toMatch(/\s81920 {2}the RAK5010 Storage area\n\s+77920 {2}to spare$/);
  });
});

describe("code area budget", () => {
  test("two slots, the blob region with the tables and native code, the journal pool, against the free flash", () => {
    const slot = SLOT_PAGES * 4096;
    const blobs = BLOB_PAGES * 4096;
    const b = codeAreaBudget({ firmware: 109000, keys: 0, teeth: 6, nativeBlobs: [6000], free: RAK_FREE }, "RAK5010");
    expect(b.fits).toBe(true);
    const tables = blobCost(6084 + 4);
    expect(tables).toBe(64 + 6096);
    expect(b.lines.map((l) => l.bytes)).toEqual([slot, slot, blobs, POOL_PAGES * 4096]);
    expect(b.lines[0].what).toBe(`slot 0: the firmware, 109000 bytes pretokenised + 64 header (${slotRoom(109000, slot)}% room to grow)`);
    expect(slotRoom(109000, 163840)).toBe(50);
    expect(b.lines[2].what).toBe(`blob region: verifier tables (6 teeth) for the base point and 0 issuer keys ${tables}, native code ${blobCost(6000)}, ${blobs - tables - blobCost(6000)} spare`);
    // The pool: every journal at its full size, one page a segment, and the largest one's rewrite.
    const segs = firmwareJournals().map((j) => j.maxSegments);
    const live = segs.reduce((a, n) => a + n, 0);
    expect(poolPages()).toEqual({ journals: 8, live, peak: live + Math.max(...segs) });
    expect(poolPages().peak).toBeLessThan(POOL_PAGES);
    expect(b.lines[3].what).toBe(`journal pool: ${POOL_PAGES} pages for 8 journals, ${live} at their largest, ${poolPages().peak} while the largest rewrites`);
    const total = codeAreaBytes();
    expect(formatBudget(b)).toMatch(new RegExp(`${total} {2}in all\\n\\s+397312 {2}the free flash the RAK5010 build leaves \\(0x81000-0xe2000\\)\\n\\s+${397312 - total} {2}to spare$`));
  });

  test("says what does not fit: a firmware larger than a slot, blobs larger than the region, too little free flash", () => {
    const big = codeAreaBudget({ firmware: 170000, keys: 4, teeth: 8, nativeBlobs: [], free: RAK_FREE }, "RAK5010");
    expect(big.fits).toBe(false);
    expect(big.problems).toEqual([
      `the firmware (170000 bytes and its 64-byte header) is larger than a slot (${SLOT_PAGES * 4096})`,
      `the blobs (${5 * blobCost(24520)} bytes) are larger than the blob region (${BLOB_PAGES * 4096})`,
    ]);
    expect(formatBudget(big)).toContain("the blobs (");
    const small = codeAreaBudget({ firmware: 1000, keys: 1, teeth: 6, nativeBlobs: [], free: { start: 0xa0000, end: 0xe2000 } }, "RAK5010");
    expect(small.fits).toBe(false);
    expect(formatBudget(small)).toContain(`the code area needs ${codeAreaBytes()} bytes of free flash below 0xe2000, the interpreter leaves 270336 (from 0xa0000)`);
  });
});
