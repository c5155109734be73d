/**
 * npm run power -- --deliveries N --days D [--coverage F] [--commands C] [--seed S] [--config JSON] [--json]
 *
 * Runs the firmware in a simulated box for D days of virtual time with N
 * deliveries a day (see sim/energy/workload.ts), measures it with the energy
 * model (sim/energy/meter.ts) and prints the charge by part and by activity,
 * the average current and the modelled life on the configured cell. With
 * --json the last line is one JSON object.
 */
import { parseArgs } from "util";
import { runWorkload, WorkloadResult } from "./workload";

export function main(argv: string[], out: (line: string) => void): number {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        deliveries: { type: "string", default: "2" },
        days: { type: "string", default: "30" },
        coverage: { type: "string", default: "1" },
        commands: { type: "string", default: "1" },
        seed: { type: "string", default: "1" },
        config: { type: "string" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", default: false },
      },
    }).values;
  } catch (e) {
    out(String((e as Error).message));
    return 2;
  }
  if (values.help) {
    out("npm run power -- --deliveries N --days D [--coverage F] [--commands C] [--seed S] [--config JSON] [--json]");
    return 0;
  }
  const n = Number(values.deliveries);
  const days = Number(values.days);
  const coverage = Number(values.coverage);
  const commands = Number(values.commands);
  const seed = Number(values.seed);
  if (!(n >= 0 && n <= 50) || !(days > 0 && days <= 3650) || !(coverage >= 0 && coverage <= 1) || !(commands >= 0 && commands <= 100) || !Number.isInteger(seed)) {
    out("power: --deliveries 0..50, --days > 0, --coverage 0..1, --commands 0..100, --seed an integer");
    return 2;
  }
  let config;
  try {
    config = values.config ? JSON.parse(values.config) : undefined;
  } catch (e) {
    out("power: --config is not JSON");
    return 2;
  }
  const r = runWorkload({ deliveriesPerDay: n, days, coverage, commandsPerDay: commands, seed, config });
  if (!values.json) print(r, { n, days, coverage, commands, seed }, out);
  else out(JSON.stringify(summary(r)));
  return 0;
}

function summary(r: WorkloadResult) {
  const p = r.report;
  return {
    years: round(p.years, 3),
    lifeDays: round(p.lifeDays, 1),
    averageMa: round(p.averageMa, 5),
    selfDischargeMa: round(p.selfDischargeMa, 5),
    days: p.days,
    cell: p.cell,
    capacityMah: p.capacityMah,
    byPart: roundAll(p.byPart),
    byActivity: roundAll(p.byActivity),
    deliveries: r.deliveries,
    granted: r.granted,
    commandsSent: r.commandsSent,
    commandsAcked: r.commandsAcked,
    commandWaitMaxS: round(r.commandWaitMaxMs / 1000, 1),
    commandWaitAvgS: round(r.commandWaitAvgMs / 1000, 1),
    accessDelayMaxS: round(r.accessDelayMaxMs / 1000, 1),
    sessions: r.sessions,
  };
}

function print(r: WorkloadResult, w: { n: number; days: number; coverage: number; commands: number; seed: number }, out: (line: string) => void): void {
  const p = r.report;
  out("Keybox energy model: " + w.days + " days, " + w.n + " deliveries/day, " + w.commands + " owner command(s)/day besides grant pushes, coverage " + Math.round(w.coverage * 100) + "%, seed " + w.seed);
  out("Cell: " + p.cell + ", " + p.capacityMah + " mAh, self-discharge " + (p.selfDischargeMa * 1000).toFixed(1) + " uA equivalent");
  out("");
  out("Charge by part (mAh over the run, mAh/day, share):");
  table(p.byPart, p.days, out);
  out("");
  out("Charge by activity:");
  table(p.byActivity, p.days, out);
  out("");
  out("Average current of the box: " + (p.averageMa * 1000).toFixed(1) + " uA (" + ((p.averageMa + p.selfDischargeMa) * 1000).toFixed(1) + " uA with self-discharge)");
  out("Modelled life: " + p.lifeDays.toFixed(0) + " days = " + p.years.toFixed(2) + " years");
  out(
    "Deliveries " + r.granted + "/" + r.deliveries + " granted; owner commands " + r.commandsAcked + "/" + r.commandsSent + " acknowledged, waited up to " + (r.commandWaitMaxMs / 3600000).toFixed(2) + " h (average " + (r.commandWaitAvgMs / 3600000).toFixed(2) + " h); access decisions reached the broker within " + (r.accessDelayMaxMs / 1000).toFixed(1) + " s while in coverage; " + r.sessions + " uplink sessions",
  );
}

function table(m: { [k: string]: number }, days: number, out: (line: string) => void): void {
  let total = 0;
  for (const k of Object.keys(m)) total += m[k];
  const keys = Object.keys(m).sort((a, b) => m[b] - m[a]);
  for (const k of keys) out("  " + pad(k, 26) + pad(m[k].toFixed(3), 11) + pad((m[k] / days).toFixed(4), 10) + ((100 * m[k]) / total).toFixed(1) + "%");
}

function pad(s: string, n: number): string {
  while (s.length < n) s += " ";
  return s;
}

function round(v: number, d: number): number {
  const f = Math.pow(10, d);
  return Math.round(v * f) / f;
}

function roundAll(m: { [k: string]: number }): { [k: string]: number } {
  const o: { [k: string]: number } = {};
  for (const k of Object.keys(m)) o[k] = round(m[k], 4);
  return o;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2), (l) => process.stdout.write(l + "\n"));
