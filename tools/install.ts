/**
 * The files an installation puts in Storage beside the firmware, read from
 * the owner's host and checked with the firmware's own parsers before any of
 * them is uploaded: the provisioning file (keybox.prov, from `keybox-issuer
 * provision`), the box configuration (keybox.json) and the verifier's tables
 * (edB and edK<id> from `keybox-issuer tables`, one per provisioned key, all
 * with the same teeth). A box given a table that is torn or belongs to
 * another key would verify on the slow path without saying so at install
 * time, so the flasher refuses it here.
 */
import * as fs from "fs";
import * as path from "path";
import { checkConfig, ConfigInput, PROVISION_FILE, SETTINGS_FILE, withDefaults } from "../firmware/config";
import { parseProvisioning, Provisioning } from "../firmware/grants/provision";
import { BASE_TABLE_FILE, intactTable, keyTableFile } from "../firmware/keytables";
import { useBaseTable } from "../firmware/crypto/ed25519";
import { crc32 } from "../firmware/store/crc32";

export interface InstallFile {
  /** Storage file name. */
  name: string;
  /** Contents, one char per byte. */
  data: string;
  /** Where it came from on the host. */
  from: string;
}

export interface Installation {
  files: InstallFile[];
  /** Teeth of the tables installed, when tables are. */
  teeth?: number;
  /** Issuer keys the provisioning file names, when it is installed. */
  keys?: number;
  /** Bytes of each table file, when tables are installed. */
  tableBytes?: number[];
}

/** Why an installation was refused, for the person at the keyboard. */
export class InstallError extends Error {}

function readJson(file: string, what: string): unknown {
  if (!fs.existsSync(file)) throw new InstallError(`${what} ${file} not found`);
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new InstallError(`${what} ${file} is not JSON: ${(e as Error).message}`);
  }
}

function provisioningFrom(file: string): Provisioning {
  const p = parseProvisioning(readJson(file, "provisioning file"));
  if (typeof p === "string") throw new InstallError(`provisioning file ${file} is refused by the firmware: ${p}`);
  return p;
}

function settingsFrom(file: string, box: string | undefined): void {
  const json = readJson(file, "configuration");
  if (!json || typeof json !== "object" || Array.isArray(json)) throw new InstallError(`configuration ${file}: expected a JSON object`);
  let problem: string | undefined;
  try {
    problem = checkConfig(withDefaults(json as ConfigInput));
  } catch (e) {
    problem = "config_json";
  }
  if (problem) throw new InstallError(`configuration ${file} is refused by the firmware: ${problem}`);
  const named = (json as { boxId?: unknown }).boxId;
  if (box !== undefined && named !== box) throw new InstallError(`configuration ${file} is for box ${String(named)}, the provisioning file for ${box}`);
}

function tableFrom(dir: string, name: string, encoding: Uint8Array | undefined): { data: Buffer; teeth: number } {
  const file = path.join(dir, name);
  if (!fs.existsSync(file)) throw new InstallError(`table ${file} not found (keybox-issuer tables writes edB and edK<id> for every provisioned key)`);
  const data = fs.readFileSync(file);
  const table = intactTable(new Uint8Array(data), crc32);
  if (!table) throw new InstallError(`table ${file} is torn or corrupt (length, header or CRC): make it again with keybox-issuer tables`);
  const built = encoding ? Buffer.from(table.subarray(4, 36)).equals(Buffer.from(encoding)) : useBaseTable(table);
  if (!built) throw new InstallError(`table ${file} was built for another ${encoding ? "key" : "point"}: make it again from this provisioning file`);
  return { data, teeth: table[3] };
}

/**
 * Reads and checks what is to be installed. Tables need the provisioning
 * file (it names the keys); the configuration and the provisioning file
 * must name the same box.
 */
export function readInstallation(o: { provision?: string; settings?: string; tables?: string }): Installation {
  const files: InstallFile[] = [];
  let prov: Provisioning | undefined;
  if (o.provision !== undefined) {
    prov = provisioningFrom(o.provision);
    files.push({ name: PROVISION_FILE, data: fs.readFileSync(o.provision, "latin1"), from: o.provision });
  }
  if (o.settings !== undefined) {
    settingsFrom(o.settings, prov && prov.boxId);
    files.push({ name: SETTINGS_FILE, data: fs.readFileSync(o.settings, "latin1"), from: o.settings });
  }
  const keys = prov && prov.keys.length;
  if (o.tables === undefined) return { files, keys };
  if (!prov) throw new InstallError("tables are installed with the provisioning file that names their keys: add --provision FILE");
  const wanted = [{ name: BASE_TABLE_FILE, key: undefined as Uint8Array | undefined }].concat(
    prov.keys.map((k) => ({ name: keyTableFile(k.id), key: k.publicKey as Uint8Array | undefined })),
  );
  let teeth: number | undefined;
  const tableBytes: number[] = [];
  for (const w of wanted) {
    const t = tableFrom(o.tables, w.name, w.key);
    if (teeth !== undefined && t.teeth !== teeth)
      throw new InstallError(`table ${path.join(o.tables, w.name)} has ${t.teeth} teeth, ${wanted[0].name} ${teeth}: a box's tables must all have the same`);
    teeth = t.teeth;
    tableBytes.push(t.data.length);
    files.push({ name: w.name, data: t.data.toString("latin1"), from: path.join(o.tables, w.name) });
  }
  return { files, teeth, keys, tableBytes };
}
