/**
 * `npm run -s ed25519-check`: the native verifier's C compiled for the host
 * (built first when a source changed), reading one case per line on
 * standard input, "signatureHex messageHex publicKeyHex", and printing 1 or
 * 0 per line. `-- --digest` reads "signatureHex publicKeyHex digestHex"
 * lines instead (the blob's own arguments); `-- --base-table` prints
 * base-table.h as ed25519.c makes it.
 */
import { spawnSync } from "child_process";
import { buildHost, generateBaseTable, NativeBuildError } from "./build";

function main(): number {
  try {
    if (process.argv.includes("--base-table")) {
      process.stdout.write(generateBaseTable());
      return 0;
    }
    const r = spawnSync(buildHost(), process.argv.includes("--digest") ? ["--digest"] : [], { stdio: "inherit" });
    if (r.error) throw r.error;
    return r.status === null ? 1 : r.status;
  } catch (e) {
    process.stderr.write((e instanceof NativeBuildError ? e.message : String(e)) + "\n");
    return 1;
  }
}

process.exit(main());
