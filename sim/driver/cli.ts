#!/usr/bin/env node
// `npm run driver -- ...` and `npx keybox-driver ...` (sim/bin/keybox-driver.js) land here.
import { run } from "./main";

run(process.argv.slice(2), {
  out: (line) => process.stdout.write(line + "\n"),
  err: (line) => process.stderr.write(line + "\n"),
}).then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write("keybox-driver: " + String(e && (e as Error).stack ? (e as Error).stack : e) + "\n");
    process.exit(3);
  },
);
