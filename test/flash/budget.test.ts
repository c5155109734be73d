/**
 * The Storage budget the build prints and the flasher enforces: every file
 * the box keeps, at the size Espruino's Storage charges for it (32-byte
 * header, data in 4-byte words), against the board's Storage area.
 */
import { fileCost, formatBudget, storageBudget } from "../../tools/budget";
import { firmwareJournals, UPLINK_JOURNALS } from "../../firmware/storage-plan";

describe("storage budget", () => {
  test("a file costs its header and its data rounded up to words", () => {
    expect(fileCost(0)).toBe(32);
    expect(fileCost(1)).toBe(36);
    expect(fileCost(4)).toBe(36);
    expect(fileCost(1025)).toBe(32 + 1028);
  });

  test("adds the firmware, the tables of each key and the base point, the files, every journal and one rewrite", () => {
    const b = storageBudget({ code: 30001, keys: 2, teeth: 6, settingsFiles: [600, 397] }, 81920);
    const by = (re: RegExp) => b.lines.filter((l) => re.test(l.what))[0].bytes;
    expect(by(/^firmware/)).toBe(32 + 30004);
    // 6 teeth: a 36-byte header and 63 entries of 96 bytes, a 4-byte CRC, the file header; three tables.
    expect(by(/tables \(6 teeth\): base point and 2 issuer keys/)).toBe(3 * (32 + 36 + 63 * 96 + 4));
    expect(by(/configuration/)).toBe(632 + 432);
    // The journals as storage-plan.ts promises them: 22,016 bytes for the firmware's eight.
    expect(firmwareJournals().length).toBe(8);
    expect(by(/^journals \(8,/)).toBe(22016);
    // the largest is the outbox's (28 events at their largest)
    expect(by(/rewrite/)).toBe(UPLINK_JOURNALS.outbox.maxSegments * (32 + UPLINK_JOURNALS.outbox.segmentBytes));
    expect(b.total).toBe(30036 + 18360 + 1064 + 22016 + 8320);
    expect(b.fits).toBe(true);
    expect(formatBudget(b, "RAK5010")).toMatch(/\s2124 {2}to spare$/);
  });

  test("counts the table files being installed as they are", () => {
    const b = storageBudget({ code: 1000, keys: 5, teeth: 7, tableFiles: [3016, 3016, 3016], settingsFiles: [] }, 81920);
    const tables = b.lines.filter((l) => /tables/.test(l.what))[0];
    expect(tables.what).toMatch(/base point and 2 issuer keys/);
    expect(tables.bytes).toBe(3 * (32 + 3016));
  });

  test("says by how much it does not fit", () => {
    const b = storageBudget({ code: 100000, keys: 1, teeth: 8, settingsFiles: [1000] }, 81920);
    expect(b.fits).toBe(false);
    expect(formatBudget(b, "RAK5010")).toContain(b.total - 81920 + "  too many: it does not fit");
  });
});
