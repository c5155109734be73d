/**
 * npm run soak -- --days N --seed S [--json] [--flash BYTES] [--junk-every MIN]
 * One simulated box through N days of life (see soak.ts); prints the table,
 * and exits 1 on any violation. With --json the last line is one JSON object.
 */
import { parseArgs } from "node:util";
import { soak, table } from "./soak";

const USAGE = `usage: npm run soak -- --days N --seed S [--json] [--flash BYTES] [--junk-every MIN] [--deliveries N]
  --days N          days of box life in virtual time (default 30)
  --seed S          the scenario's seed: the same seed is the same run (default 1)
  --json            the last line is one JSON object (lost, storeFailures, violations, ...)
  --flash BYTES     bytes of simulated Storage (default 40960)
  --junk-every MIN  a stranger's junk attempt on the radio every MIN minutes as well
  --deliveries N    deliveries a day on average (default 3)`;

async function main(): Promise<number> {
  let v;
  try {
    v = parseArgs({
      options: {
        days: { type: "string", default: "30" },
        seed: { type: "string", default: "1" },
        json: { type: "boolean", default: false },
        flash: { type: "string" },
        "junk-every": { type: "string" },
        deliveries: { type: "string" },
        help: { type: "boolean", default: false },
      },
    }).values;
  } catch (e) {
    process.stderr.write((e as Error).message + "\n" + USAGE + "\n");
    return 2;
  }
  if (v.help) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  const days = Number(v.days);
  const seed = Number(v.seed);
  const flash = v.flash === undefined ? undefined : Number(v.flash);
  const junk = v["junk-every"] === undefined ? undefined : Number(v["junk-every"]);
  const deliveries = v.deliveries === undefined ? undefined : Number(v.deliveries);
  if (!(days > 0 && days <= 3660) || !Number.isInteger(seed) || (flash !== undefined && !(flash >= 8192)) || (junk !== undefined && !(junk >= 1)) || (deliveries !== undefined && !(deliveries >= 0))) {
    process.stderr.write("soak: --days 1..3660, an integer --seed, --flash >= 8192, --junk-every >= 1, --deliveries >= 0\n");
    return 2;
  }
  const r = await soak({ days, seed, flashCapacity: flash, junkEveryMin: junk, deliveriesPerDay: deliveries, progress: v.json ? undefined : (l) => process.stderr.write(l + "\n") });
  process.stdout.write(table(r) + "\n");
  if (v.json) process.stdout.write(JSON.stringify(r) + "\n");
  return r.violations.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write("soak: " + ((e && e.stack) || e) + "\n");
    process.exit(3);
  },
);
