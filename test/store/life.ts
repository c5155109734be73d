/**
 * A box living on the virtual clock as installed on a RAK5010, for the
 * lifecycle test and the year-long run (npx tsx test/store/life.ts --days
 * 365 --case idle|junk). Storage holds what the owner installs (the loader
 * allowance, 6-tooth tables for the base point and one key, the settings
 * files); the journals the firmware keeps live in the code area's pool.
 */
import { SimBox } from "../../sim/box";
import { Phone } from "../ble/helpers";
import { MSG_UNLOCK } from "../../firmware/ble/protocol";
import { BASE_TABLE_FILE, keyTableFile, tableFile } from "../../firmware/keytables";
import { prepareBase, prepareKey } from "../../firmware/crypto/ed25519";
import { crc32 } from "../../sim/hw/system";
import { STORAGE_BYTES } from "../../firmware/storage-plan";
import { CodeAreaLayout, layoutFor } from "../../firmware/codearea/layout";
import { SimCodeArea } from "../../sim/hw/codearea";
import { testKey } from "../grants/helpers";

export type Case = "idle" | "junk";

export interface Life {
  days: number;
  /** Events whose reason is a storage failure (store_failed, store_full, compaction_failed). */
  storeFailures: string[];
  /** Storage after the install: bytes programmed, compactions and wipes (all 0 when the firmware keeps out of it). */
  storage: { programmed: number; compactions: number; wipes: number };
  /** Erases of the pool's most-erased page, and of all its pages. */
  mostErased: number;
  poolErases: number;
  /** Bytes programmed into the pool. */
  programmed: number;
}

/** Erase counts of the pool's pages. */
export function poolErases(area: SimCodeArea): number[] {
  const l = layoutFor(area.freeRange()) as CodeAreaLayout;
  const out: number[] = [];
  for (let a = l.pool; a < l.pool + l.poolBytes; a += area.pageBytes) out.push(area.erases[a] || 0);
  return out;
}

const BOX = "KB-LIFE001";
const owner = testKey(5);
const DAY = 86_400_000;

export function provisioning(): string {
  return JSON.stringify({ format: "keybox-provision/1", boxId: BOX, keys: [{ id: owner.id, publicKey: Buffer.from(owner.publicKey).toString("hex") }] });
}

/** A box as installed on a RAK5010, its broker unreachable (the idle case has no broker to talk to). */
export function installedBox(): SimBox {
  const box = new SimBox({ config: { boxId: BOX }, provisioning: provisioning(), broker: { host: "127.0.0.1", port: 1 }, flashCapacity: STORAGE_BYTES });
  box.install(".bootcde", new Uint8Array(4096 - 32).fill(0x20)); // issue 12's loader, at its allowance
  box.install(BASE_TABLE_FILE, tableFile(prepareBase(6)!, crc32));
  box.install(keyTableFile(owner.id), tableFile(prepareKey(owner.publicKey, 6)!, crc32));
  box.install("keybox.json", JSON.stringify({ boxId: BOX }).padEnd(480, " "));
  return box;
}

/** Runs one case for `days` and reports the flash's side of it. */
export function live(kind: Case, days: number): Life {
  const box = installedBox();
  const start = box.flash.stats();
  const pool0 = poolErases(box.codeArea);
  const prog0 = box.codeArea.programmed;
  box.boot();
  const junk = new Uint8Array(96).fill(0x5a);
  for (let d = 0; d < days; d++) {
    if (kind === "idle") {
      box.run(DAY);
      continue;
    }
    for (let k = 0; k < 288; k++) {
      // A stranger: connects, sends a junk unlock, goes away; every five minutes.
      const p = new Phone(box.ble, box.clock);
      p.connect(true);
      box.run(100);
      p.send(MSG_UNLOCK, junk);
      box.run(2000);
      p.drop();
      box.run(300_000 - 2100);
    }
  }
  const end = box.flash.stats();
  const pool = poolErases(box.codeArea).map((n, i) => n - pool0[i]);
  const failures = box.events.filter((e) => /^store_|^compaction_failed$/.test(e.reason)).map((e) => e.type + ":" + e.reason);
  const programmed = box.codeArea.programmed - prog0;
  box.close();
  return {
    days,
    storeFailures: failures,
    storage: { programmed: end.programmed - start.programmed, compactions: end.compactions - start.compactions, wipes: end.wipes - start.wipes },
    mostErased: Math.max(...pool),
    poolErases: pool.reduce((a, b) => a + b, 0),
    programmed,
  };
}

/** Per-day and per-year figures of a run. */
export function rates(l: Life): { programmedPerDay: number; pageErasesPerDay: number; mostErasedPerYear: number } {
  return {
    programmedPerDay: Math.round(l.programmed / l.days),
    pageErasesPerDay: l.poolErases / l.days,
    mostErasedPerYear: (l.mostErased * 365) / l.days,
  };
}

if (require.main === module) {
  const arg = (name: string, dflt: string) => {
    const i = process.argv.indexOf("--" + name);
    return i > 0 ? process.argv[i + 1] : dflt;
  };
  const kind = arg("case", "idle") as Case;
  const l = live(kind, +arg("days", "30"));
  console.log(JSON.stringify({ case: kind, ...l, ...rates(l) }, null, 1));
}
