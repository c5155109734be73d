import fc from "fast-check";
import { VerifiedCache } from "../../firmware/crypto/verified-cache";
import { crc32, simAccel } from "../../sim/hw/system";
import { SimFlash } from "../../sim/hw/flash";
import { Journal } from "../../firmware/store/journal";
import { cacheJournal } from "../../firmware/storage-plan";

const hash256 = simAccel().sha256!;

function grant(n: number, len = 60): Uint8Array {
  const g = new Uint8Array(len);
  for (let i = 0; i < len; i++) g[i] = (n * 31 + i * 7) & 0xff;
  return g;
}

function open(flash: SimFlash, capacity = 8) {
  return new VerifiedCache({ capacity, flash, crc32, hash: hash256 });
}

describe("VerifiedCache", () => {
  test("remembers exact bytes under the key id, and nothing else", () => {
    const c = open(new SimFlash());
    const g = grant(1);
    expect(c.has(g, 7)).toBe(false);
    expect(c.remember(g, "g1", 7, 1000)).toBe(true);
    expect(c.has(g, 7)).toBe(true);
    expect(c.has(g, 8)).toBe(false);
    const edited = new Uint8Array(g);
    edited[10] ^= 1;
    expect(c.has(edited, 7)).toBe(false);
    expect(c.has(g.subarray(0, 59), 7)).toBe(false);
    c.close();
    c.close();
    expect(c.has(g, 7)).toBe(false);
  });

  test("a grant never seen costs no hash; one that ends like a remembered one is told apart by its digest, and the newer replaces the older", () => {
    let hashes = 0;
    const counting = (b: Uint8Array) => (hashes++, hash256(b));
    const c = new VerifiedCache({ capacity: 8, flash: new SimFlash(), crc32, hash: counting });
    expect(c.remember(grant(1), "g1", 1, 1000)).toBe(true);
    hashes = 0;
    expect(c.mayHave(grant(2), 1)).toBe(false);
    expect(c.has(grant(2), 1)).toBe(false);
    expect(hashes).toBe(0);
    // the same last 12 bytes (where a grant's signature ends), another beginning
    const twin = grant(1);
    twin[0] ^= 0xff;
    expect(c.mayHave(twin, 1)).toBe(true);
    expect(c.has(twin, 1)).toBe(false);
    expect(hashes).toBe(1);
    expect(c.has(grant(1), 1)).toBe(true);
    expect(c.remember(twin, "g2", 1, 1000)).toBe(true);
    expect(c.has(twin, 1)).toBe(true);
    expect(c.has(grant(1), 1)).toBe(false);
    expect(c.size()).toBe(1);
    expect(c.has(grant(1).subarray(0, 11), 1)).toBe(false);
    expect(c.remember(grant(1).subarray(0, 11), "g3", 1, 1000)).toBe(false);
  });

  test("records of the format before the last 12 bytes were kept are skipped: their grants are verified once more", () => {
    const flash = new SimFlash();
    const plan = cacheJournal(8);
    const j = new Journal({ flash, prefix: plan.prefix, segmentBytes: plan.segmentBytes, maxSegments: plan.maxSegments, crc32 });
    const old = new Uint8Array(42 + 2);
    old[0] = 1;
    old[1] = 1;
    old.set(hash256(new Uint8Array([1, 0, 0, 0, ...grant(1)])).subarray(0, 32), 9);
    old[41] = 2;
    old[42] = "g".charCodeAt(0);
    old[43] = "1".charCodeAt(0);
    expect(j.append(old)).toBe(true);
    j.close();
    const c = open(flash);
    expect(c.size()).toBe(0);
    expect(c.has(grant(1), 1)).toBe(false);
    expect(c.remember(grant(1), "g1", 1, 1000)).toBe(true);
    c.close();
    expect(open(flash).has(grant(1), 1)).toBe(true);
  });

  test("a full cache answers for its newest 64 grants and has forgotten the oldest", () => {
    const c = new VerifiedCache({ capacity: 64, hash: hash256 });
    for (let i = 0; i < 70; i++) expect(c.remember(grant(i), "g" + i, 1, 1000)).toBe(true);
    expect(c.size()).toBe(64);
    for (let i = 0; i < 70; i++) expect(c.has(grant(i), 1)).toBe(i >= 6);
  });

  test("survives a reboot through the journal", () => {
    const flash = new SimFlash();
    const c = open(flash);
    c.remember(grant(1), "g1", 1, 1000);
    c.remember(grant(2), "g2", 2, 1000);
    c.close();
    const d = open(flash);
    expect(d.has(grant(1), 1)).toBe(true);
    expect(d.has(grant(2), 2)).toBe(true);
    expect(d.size()).toBe(2);
  });

  test("revocation by grant id and rotation by key id invalidate, also after a reboot", () => {
    const flash = new SimFlash();
    const c = open(flash);
    c.remember(grant(1), "g1", 1, 1000);
    c.remember(grant(2), "g2", 1, 1000);
    c.remember(grant(3), "g3", 2, 1000);
    expect(c.forgetGrant("g2")).toBe(true);
    expect(c.has(grant(2), 1)).toBe(false);
    expect(c.has(grant(1), 1)).toBe(true);
    expect(c.forgetKey(1)).toBe(true);
    expect(c.has(grant(1), 1)).toBe(false);
    expect(c.has(grant(3), 2)).toBe(true);
    c.close();
    const d = open(flash);
    expect(d.has(grant(1), 1)).toBe(false);
    expect(d.has(grant(2), 1)).toBe(false);
    expect(d.has(grant(3), 2)).toBe(true);
  });

  test("bounded: the oldest entry goes first", () => {
    const c = open(new SimFlash(), 3);
    for (let i = 0; i < 5; i++) c.remember(grant(i), "g" + i, 1, 1000);
    expect(c.size()).toBe(3);
    expect(c.has(grant(0), 1)).toBe(false);
    expect(c.has(grant(1), 1)).toBe(false);
    expect(c.has(grant(4), 1)).toBe(true);
  });

  test("prune drops expired entries without writing: after a reboot they go at the next pruning", () => {
    const flash = new SimFlash();
    const c = open(flash);
    c.remember(grant(1), "g1", 1, 100);
    c.remember(grant(2), "g2", 1, 300);
    const written = flash.programmed;
    expect(c.prune(200)).toBe(true);
    expect(c.has(grant(1), 1)).toBe(false);
    // a rewrite costs a page erase in the journal pool, however little it drops
    expect(flash.programmed).toBe(written);
    c.close();
    const d = open(flash);
    expect(d.has(grant(2), 1)).toBe(true);
    expect(d.prune(200)).toBe(true);
    expect(d.has(grant(1), 1)).toBe(false);
    expect(d.has(grant(2), 1)).toBe(true);
  });

  test("the journal compacts instead of filling up: a long random session matches a model", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ op: fc.constantFrom("add", "add", "add", "dropG", "dropK", "reboot"), n: fc.nat({ max: 9 }), k: fc.nat({ max: 2 }) }),
          { maxLength: 120 },
        ),
        (ops) => {
          const flash = new SimFlash();
          let c = open(flash, 4);
          const model: Array<{ n: number; k: number }> = [];
          for (const o of ops) {
            if (o.op === "add") {
              expect(c.remember(grant(o.n), "id" + o.n, o.k, 5000)).toBe(true);
              const i = model.findIndex((m) => m.n === o.n && m.k === o.k);
              if (i >= 0) model.splice(i, 1);
              model.push({ n: o.n, k: o.k });
              while (model.length > 4) model.shift();
            } else if (o.op === "dropG") {
              expect(c.forgetGrant("id" + o.n)).toBe(true);
              for (let i = model.length - 1; i >= 0; i--) if (model[i].n === o.n) model.splice(i, 1);
            } else if (o.op === "dropK") {
              expect(c.forgetKey(o.k)).toBe(true);
              for (let i = model.length - 1; i >= 0; i--) if (model[i].k === o.k) model.splice(i, 1);
            } else {
              c.close();
              c = open(flash, 4);
            }
            for (let n = 0; n < 10; n++)
              for (let k = 0; k < 3; k++) expect(c.has(grant(n), k)).toBe(model.some((m) => m.n === n && m.k === k));
          }
          c.close();
        },
      ),
      { numRuns: 40, seed: 7 },
    );
  });

  test("RAM-only without flash; bad options and arguments are refused", () => {
    const c = new VerifiedCache({ capacity: 2 });
    expect(c.remember(grant(1), "g1", 1, 10)).toBe(true);
    expect(c.has(grant(1), 1)).toBe(true);
    expect(c.remember(grant(1), "", 1, 10)).toBe(false);
    expect(c.remember(grant(1), "x".repeat(65), 1, 10)).toBe(false);
    expect(c.remember(grant(1), "g", -1, 10)).toBe(false);
    expect(c.remember("nope" as unknown as Uint8Array, "g", 1, 10)).toBe(false);
    expect(() => new VerifiedCache({ capacity: 0 })).toThrow("cache_options");
    expect(() => new VerifiedCache({ capacity: 2, flash: new SimFlash() })).toThrow("cache_options");
  });
});
