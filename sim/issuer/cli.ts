// Entry point of `npm run issuer -- <cmd>` and `npx keybox-issuer <cmd>`; the commands live in main.ts.
import { run } from "./main";

process.exitCode = run(process.argv.slice(2), {
  out: (line) => process.stdout.write(line + "\n"),
  err: (line) => process.stderr.write(line + "\n"),
});
