import { parseArgs } from "node:util";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "fs";
import { join } from "path";
import { randomBytes } from "crypto";
import nacl from "tweetnacl";
import {
  decodeGrant,
  encodeGrant,
  grantBody,
  grantMessage,
  GrantFields,
  isBoxId,
  isGrantId,
  PERM_ADMIN,
  PERM_LOCK,
  PERM_UNLOCK,
  USES_UNLIMITED,
} from "../../firmware/grants/codec";
import { decodeRevocation, encodeRevocation, revocationBody, revocationMessage, RevocationFields } from "../../firmware/grants/revocation";
import { parseProvisioning, PROVISION_FORMAT } from "../../firmware/grants/provision";
import { BASE_TABLE_FILE, keyTableFile, tableFile } from "../../firmware/keytables";
import { prepareBase, prepareKey, tableBytes } from "../../firmware/crypto/ed25519";
import { crc32 } from "../hw/system";
import { iso, KEY_FORMAT, KeyFile, parseDuration, parseTime, PUB_FORMAT, readBlob, readKeyFile, readText, strictVerify, UsageError } from "./files";

export interface IssuerIo {
  out(line: string): void;
  err(line: string): void;
  /** Unix seconds; tests pin it. */
  now?: () => number;
}

const USAGE = `keybox-issuer: the owner's tool for Keybox access grants (signs with Ed25519, tweetnacl)

  keygen    --out BASE [--id N] [--force]
            writes BASE.key (secret, keep it) and BASE.pub; N is the key id (1..65535, random if absent)
  provision --box ID --key FILE [--key FILE ...] [--out FILE]
            the box's provisioning file (JSON): its id and the issuer public keys it trusts
  mint      --key FILE.key --box ID [--until TIME | --for DURATION] [--from TIME]
            [--perm unlock,lock,admin] [--uses 1|N|unlimited] [--holder FILE.pub|HEX] [--id HEX16]
            [--provision FILE] [--out FILE] [--format binary|base64]
            a signed grant; TIME is now, +2h, Unix seconds or 2026-05-01T09:00:00Z
            (defaults: --from now, --for 2h, --perm unlock,lock, --uses 1; without --out, base64 on stdout);
            refuses a window that is already over, and with --provision (the box's provisioning
            file) a box id or key the box would refuse; warns about a box id in lower case
  revoke    --key FILE.key --box ID (--grant FILE | --grant-id HEX16 --until TIME | --issuer-key N)
            [--out FILE] [--format binary|base64]
            a signed revocation record for the owner's command channel to carry to the box
  explain   GRANT-OR-REVOCATION [--key FILE ...] [--provision FILE] [--json]
            decodes a file or base64 string and checks its signature against the given keys
            (exit 0 valid, 1 signature does not verify, 2 malformed)
  tables    --provision FILE --out DIR [--teeth 5|6|7|8] [--force]
            the verifier's precomputed tables (edB, edK<id>) to upload to the box's Storage;
            fewer teeth, smaller tables, slower verification (bytes per file: 8 teeth ${tableBytes(8) + 4},
            7: ${tableBytes(7) + 4}, 6: ${tableBytes(6) + 4}, 5: ${tableBytes(5) + 4}; default 8; all files share one count)

Bad input exits with code 2 and a one-line message.`;

const OPTIONS = {
  out: { type: "string" },
  id: { type: "string" },
  force: { type: "boolean" },
  box: { type: "string" },
  key: { type: "string", multiple: true },
  from: { type: "string" },
  until: { type: "string" },
  for: { type: "string" },
  perm: { type: "string" },
  uses: { type: "string" },
  holder: { type: "string" },
  format: { type: "string" },
  grant: { type: "string" },
  "grant-id": { type: "string" },
  "issuer-key": { type: "string" },
  provision: { type: "string" },
  teeth: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

type Values = ReturnType<typeof parse>["values"];

function parse(argv: string[]) {
  return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
}

/** Runs one command; returns the exit code. Never throws for bad input. */
export function run(argv: string[], io: IssuerIo): number {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (e) {
    io.err(`keybox-issuer: ${(e as Error).message.split("\n")[0]}`);
    return 2;
  }
  const { values: v, positionals } = parsed;
  const cmd = positionals[0];
  if (v.help || cmd === "help" || cmd === undefined) {
    io.out(USAGE);
    return cmd === undefined && !v.help ? 2 : 0;
  }
  const now = io.now ? io.now() : Math.floor(Date.now() / 1000);
  try {
    switch (cmd) {
      case "keygen":
        return keygen(v, io);
      case "provision":
        return provision(v, io);
      case "mint":
        return mint(v, io, now);
      case "revoke":
        return revoke(v, io, now);
      case "explain":
        return explain(v, positionals.slice(1), io);
      case "tables":
        return tables(v, io);
      default:
        throw new UsageError(`unknown command "${cmd}" (keygen, provision, mint, revoke, explain, tables; --help)`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`keybox-issuer: ${e.message}`);
      return 2;
    }
    throw e;
  }
}

function need<T>(value: T | undefined, flag: string): T {
  if (value === undefined || value === "") throw new UsageError(`missing --${flag}`);
  return value;
}

function boxOf(v: Values): string {
  const box = need(v.box, "box");
  if (!isBoxId(box)) throw new UsageError(`--box: 1..16 characters of A-Z a-z 0-9 . _ -, got "${box}"`);
  return box;
}

function oneKey(v: Values, secret: boolean): KeyFile {
  const keys = need(v.key, "key");
  if (keys.length !== 1) throw new UsageError("give exactly one --key to sign with");
  return readKeyFile(keys[0], secret);
}

function write(path: string, data: string | Uint8Array, force: boolean, mode?: number): void {
  if (!force && existsSync(path)) throw new UsageError(`${path} exists (use --force to replace it)`);
  try {
    writeFileSync(path, data, mode === undefined ? undefined : { mode });
  } catch (e) {
    throw new UsageError(`cannot write ${path}: ${(e as NodeJS.ErrnoException).code || (e as Error).message}`);
  }
}

function emitBytes(v: Values, io: IssuerIo, bytes: Uint8Array): void {
  const format = v.format === undefined ? (v.out ? "binary" : "base64") : v.format;
  if (format !== "binary" && format !== "base64") throw new UsageError(`--format: binary or base64, got "${format}"`);
  const b64 = Buffer.from(bytes).toString("base64");
  if (!v.out) {
    if (format === "binary") throw new UsageError("--format binary needs --out FILE");
    io.out(b64);
    return;
  }
  write(v.out, format === "binary" ? bytes : b64 + "\n", !!v.force);
}

function keygen(v: Values, io: IssuerIo): number {
  const base = need(v.out, "out");
  let id: number;
  if (v.id !== undefined) {
    id = Number(v.id);
    if (!/^\d+$/.test(v.id) || id < 1 || id > 65535) throw new UsageError(`--id: a key id 1..65535, got "${v.id}"`);
  } else {
    id = 1 + (randomBytes(2).readUInt16BE(0) % 65535);
  }
  const kp = nacl.sign.keyPair();
  const pub = { format: PUB_FORMAT, id, publicKey: Buffer.from(kp.publicKey).toString("hex") };
  const key = { format: KEY_FORMAT, id, publicKey: pub.publicKey, secretKey: Buffer.from(kp.secretKey).toString("hex") };
  if (!v.force) for (const p of [base + ".key", base + ".pub"]) if (existsSync(p)) throw new UsageError(`${p} exists (use --force to replace it)`);
  write(base + ".key", JSON.stringify(key, null, 2) + "\n", true, 0o600);
  write(base + ".pub", JSON.stringify(pub, null, 2) + "\n", true);
  io.out(`key id ${id}: secret ${base}.key (keep it private), public ${base}.pub`);
  return 0;
}

function provision(v: Values, io: IssuerIo): number {
  const box = boxOf(v);
  const files = need(v.key, "key");
  const keys = files.map((f) => readKeyFile(f, false));
  const ids = new Set<number>();
  for (const k of keys) {
    if (ids.has(k.id)) throw new UsageError(`two keys share key id ${k.id}`);
    ids.add(k.id);
  }
  const doc = {
    format: PROVISION_FORMAT,
    boxId: box,
    keys: keys.map((k) => ({ id: k.id, publicKey: Buffer.from(k.publicKey).toString("hex") })),
  };
  const check = parseProvisioning(doc);
  if (typeof check === "string") throw new UsageError(`cannot provision: ${check} (at most 8 keys)`);
  const text = JSON.stringify(doc, null, 2) + "\n";
  if (v.out) {
    write(v.out, text, !!v.force);
    io.out(`provisioning for ${box} with key ids ${[...ids].join(", ")} written to ${v.out}`);
  } else io.out(text.trimEnd());
  return 0;
}

/**
 * The verifier's comb tables for a provisioning file: edB for the base point
 * and edK<id> for each key, each with its CRC, to upload to the box's
 * Storage beside keybox.prov (the board would take minutes per table). All
 * get the same --teeth: the verifier's fast path needs base and key to match.
 */
function tables(v: Values, io: IssuerIo): number {
  const file = v.provision;
  if (!file) throw new UsageError("tables needs --provision FILE (from the provision command) and --out DIR");
  const dir = v.out;
  if (!dir) throw new UsageError("tables needs --out DIR");
  const teeth = v.teeth === undefined ? 8 : /^[5-8]$/.test(v.teeth) ? Number(v.teeth) : 0;
  if (!teeth) throw new UsageError(`--teeth: 5, 6, 7 or 8, got "${v.teeth}"`);
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as Error).message.split("\n")[0]}`);
  }
  const p = parseProvisioning(doc);
  if (typeof p === "string") throw new UsageError(`${file}: ${p}`);
  mkdirSync(dir, { recursive: true });
  const names: string[] = [];
  const put = (name: string, table: Uint8Array) => {
    write(join(dir, name), tableFile(table, crc32), !!v.force);
    names.push(name);
  };
  put(BASE_TABLE_FILE, prepareBase(teeth)!);
  for (const k of p.keys) {
    const t = prepareKey(k.publicKey, teeth);
    if (!t) throw new UsageError(`key ${k.id} is not a valid Ed25519 public key`);
    put(keyTableFile(k.id), t);
  }
  io.out(`tables for ${p.boxId} written to ${dir}: ${names.join(", ")} (${teeth} teeth, ${tableBytes(teeth) + 4} bytes each)`);
  return 0;
}

function parsePerms(s: string): number {
  let p = 0;
  for (const part of s.split(",")) {
    const name = part.trim();
    if (name === "unlock") p |= PERM_UNLOCK;
    else if (name === "lock") p |= PERM_LOCK;
    else if (name === "admin" || name === "administer") p |= PERM_ADMIN;
    else throw new UsageError(`--perm: unlock, lock and/or admin, got "${name}"`);
  }
  return p;
}

function parseUses(s: string): number {
  if (s === "unlimited") return USES_UNLIMITED;
  if (!/^\d+$/.test(s) || Number(s) < 1 || Number(s) > 254) throw new UsageError(`--uses: 1..254 or unlimited, got "${s}"`);
  return Number(s);
}

function parseHolder(s: string): Uint8Array {
  if (/^[0-9a-fA-F]{64}$/.test(s)) return new Uint8Array(Buffer.from(s, "hex"));
  return readKeyFile(s, false).publicKey;
}

function mint(v: Values, io: IssuerIo, now: number): number {
  const key = oneKey(v, true);
  const box = boxOf(v);
  const from = v.from === undefined ? now : parseTime(v.from, now, "--from");
  if (v.until !== undefined && v.for !== undefined) throw new UsageError("give --until or --for, not both");
  const until = v.until !== undefined ? parseTime(v.until, now, "--until") : from + parseDuration(v.for === undefined ? "2h" : v.for, "--for");
  for (const w of mintChecks({ box, keyId: key.id, from, until, now, provision: v.provision })) io.err("warning: " + w);
  let grantId: string;
  if (v.id !== undefined) {
    grantId = v.id.toLowerCase();
    if (!isGrantId(grantId)) throw new UsageError(`--id: 16 hex digits, not all zero, got "${v.id}"`);
  } else {
    do grantId = randomBytes(8).toString("hex");
    while (!isGrantId(grantId));
  }
  const f: GrantFields = {
    boxId: box,
    grantId,
    keyId: key.id,
    notBefore: from,
    notAfter: until,
    perms: parsePerms(v.perm === undefined ? "unlock,lock" : v.perm),
    uses: parseUses(v.uses === undefined ? "1" : v.uses),
  };
  if (v.holder !== undefined) f.holder = parseHolder(v.holder);
  let body: Uint8Array;
  try {
    body = grantBody(f);
  } catch (e) {
    const why = (e as Error).message;
    const hint: Record<string, string> = {
      grant_time: "times must be after 2020-01-01 and fit in 32 bits",
      grant_window: "--until must be after --from, and the window at most 366 days",
    };
    throw new UsageError(`cannot mint: ${hint[why] || why}`);
  }
  const grant = encodeGrant(f, nacl.sign.detached(grantMessage(body), key.secretKey!));
  emitBytes(v, io, grant);
  io.err(`grant ${grantId} for ${box}: ${describePerms(f.perms)}, ${describeUses(f.uses)}, ${iso(from)} .. ${iso(until)}, key ${key.id}, ${grant.length} bytes`);
  return 0;
}

/** A provisioning file, checked with the firmware's own parser. */
function readProvisioning(file: string): Exclude<ReturnType<typeof parseProvisioning>, string> {
  let doc: unknown;
  try {
    doc = JSON.parse(readText(file, "provisioning file"));
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`${file} is not JSON`);
  }
  const p = parseProvisioning(doc);
  if (typeof p === "string") throw new UsageError(`${file}: ${p}`);
  return p;
}

/** The box's clock tolerance on both window edges (firmware/grants/decide.ts). */
const TOLERANCE_S = 120;

/**
 * A grant that could never open the box is refused here, where it is made:
 * a window already over, and (given the box's provisioning file) another
 * box's id or a key the box does not trust. Returns warnings for what only
 * might be wrong.
 */
function mintChecks(c: { box: string; keyId: number; from: number; until: number; now: number; provision?: string }): string[] {
  const warnings: string[] = [];
  if (c.until > c.from && c.until + TOLERANCE_S < c.now)
    throw new UsageError(`cannot mint: the window ends ${iso(c.until)}, which is already past, so the grant could never open the box; give a later --until (or --for from now)`);
  if (c.from - c.now > 30 * 86400) warnings.push(`the window starts ${iso(c.from)}, more than 30 days from now`);
  if (c.provision !== undefined) {
    const p = readProvisioning(c.provision);
    if (p.boxId !== c.box) throw new UsageError(`cannot mint: --box ${c.box} but ${c.provision} is box ${p.boxId} (box ids are case-sensitive)`);
    if (!p.keys.some((k) => k.id === c.keyId)) throw new UsageError(`cannot mint: box ${p.boxId} does not trust key ${c.keyId} (it trusts ${p.keys.map((k) => k.id).join(", ")})`);
  } else if (c.box !== c.box.toUpperCase()) {
    warnings.push(`box ids are case-sensitive: this grant opens only a box provisioned as exactly "${c.box}", not "${c.box.toUpperCase()}" (--provision FILE checks it)`);
  }
  return warnings;
}

function revoke(v: Values, io: IssuerIo, now: number): number {
  const key = oneKey(v, true);
  const box = boxOf(v);
  const targets = [v.grant, v["grant-id"], v["issuer-key"]].filter((x) => x !== undefined).length;
  if (targets !== 1) throw new UsageError("give exactly one of --grant FILE, --grant-id HEX16 (with --until) or --issuer-key N");
  let f: RevocationFields;
  if (v.grant !== undefined) {
    const d = decodeGrant(readBlob(v.grant));
    if (!d.ok) throw new UsageError(`${v.grant} is not a grant (${d.reason})`);
    if (d.grant.boxId !== box) throw new UsageError(`${v.grant} is for box ${d.grant.boxId}, not ${box}`);
    f = { boxId: box, grantId: d.grant.grantId, until: d.grant.notAfter, signerKeyId: key.id };
  } else if (v["grant-id"] !== undefined) {
    const gid = v["grant-id"].toLowerCase();
    if (!isGrantId(gid)) throw new UsageError(`--grant-id: 16 hex digits, not all zero, got "${v["grant-id"]}"`);
    const until = parseTime(need(v.until, "until (the grant's not-after)"), now, "--until");
    f = { boxId: box, grantId: gid, until, signerKeyId: key.id };
  } else {
    const s = v["issuer-key"]!;
    if (!/^\d+$/.test(s) || Number(s) < 1 || Number(s) > 65535) throw new UsageError(`--issuer-key: a key id 1..65535, got "${s}"`);
    f = { boxId: box, keyId: Number(s), until: 0, signerKeyId: key.id };
  }
  let body: Uint8Array;
  try {
    body = revocationBody(f);
  } catch (e) {
    throw new UsageError(`cannot revoke: ${(e as Error).message}`);
  }
  const rec = encodeRevocation(f, nacl.sign.detached(revocationMessage(body), key.secretKey!));
  emitBytes(v, io, rec);
  const what = f.grantId !== undefined ? `grant ${f.grantId} (remembered until ${iso(f.until)})` : `issuer key ${f.keyId} (for good)`;
  io.err(`revocation of ${what} on ${box}, signed by key ${key.id}, ${rec.length} bytes`);
  return 0;
}

function describePerms(p: number): string {
  const names: string[] = [];
  if (p & PERM_UNLOCK) names.push("unlock");
  if (p & PERM_LOCK) names.push("lock");
  if (p & PERM_ADMIN) names.push("administer");
  return names.join("+");
}

function describeUses(u: number): string {
  return u === USES_UNLIMITED ? "unlimited uses in the window" : u === 1 ? "single use" : `${u} uses`;
}

function explain(v: Values, args: string[], io: IssuerIo): number {
  if (args.length !== 1) throw new UsageError("explain takes one grant or revocation (a file or a base64 string)");
  const bytes = readBlob(args[0]);
  const keys: KeyFile[] = (v.key || []).map((f) => readKeyFile(f, false));
  if (v.provision !== undefined) {
    for (const k of readProvisioning(v.provision).keys) keys.push(k);
  }
  const g = decodeGrant(bytes);
  const r = g.ok ? undefined : decodeRevocation(bytes);
  if (!g.ok && (!r || !r.ok)) {
    throw new UsageError(`not a valid grant (${g.reason}) or revocation (${r && !r.ok ? r.reason : "?"}), ${bytes.length} bytes`);
  }
  let info: Record<string, string | number | boolean | null>;
  let signer: number;
  let sig: Uint8Array;
  let signed: Uint8Array;
  if (g.ok) {
    const x = g.grant;
    info = {
      kind: "grant",
      box: x.boxId,
      grantId: x.grantId,
      keyId: x.keyId,
      notBefore: iso(x.notBefore),
      notAfter: iso(x.notAfter),
      permissions: describePerms(x.perms),
      uses: describeUses(x.uses),
      holder: x.holder ? Buffer.from(x.holder).toString("hex") : null,
      bytes: bytes.length,
    };
    signer = x.keyId;
    sig = x.signature;
    signed = x.signed;
  } else {
    const x = r!.ok ? r!.rev : undefined!;
    info = {
      kind: "revocation",
      box: x.boxId,
      target: x.grantId !== undefined ? `grant ${x.grantId}` : `issuer key ${x.keyId}`,
      until: x.grantId !== undefined ? iso(x.until) : "forever",
      keyId: x.signerKeyId,
      bytes: bytes.length,
    };
    signer = x.signerKeyId;
    sig = x.signature;
    signed = x.signed;
  }
  const match = keys.find((k) => k.id === signer);
  let verdict: string;
  let code = 0;
  if (keys.length === 0) verdict = "not checked (give --key or --provision)";
  else if (!match) {
    verdict = `no key with id ${signer} among the keys given`;
    code = 1;
  } else if (strictVerify(sig, signed, match.publicKey)) verdict = `valid (key ${signer})`;
  else {
    verdict = `INVALID for key ${signer}`;
    code = 1;
  }
  info.signature = verdict;
  if (v.json) io.out(JSON.stringify(info));
  else for (const k of Object.keys(info)) io.out(`${k.padEnd(12)} ${info[k] === null ? "-" : info[k]}`);
  return code;
}
