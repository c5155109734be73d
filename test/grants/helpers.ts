import { createPublicKey, verify as cryptoVerify } from "crypto";
import nacl from "tweetnacl";
import { encodeGrant, grantBody, grantMessage, GrantFields, PERM_UNLOCK, PERM_LOCK, holderMessage } from "../../firmware/grants/codec";
import { ClockState, GrantState } from "../../firmware/grants/decide";
import { verify as firmwareVerify } from "../../firmware/crypto/ed25519";

export const T0 = 1767225600; // 2026-01-01T00:00:00Z

export interface TestKey {
  id: number;
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

export function testKey(id: number, seedByte = id): TestKey {
  const kp = nacl.sign.keyPair.fromSeed(new Uint8Array(32).fill(seedByte & 0xff));
  return { id, publicKey: kp.publicKey, secretKey: kp.secretKey };
}

export function fields(over: Partial<GrantFields> = {}): GrantFields {
  return {
    boxId: "KB-000001",
    grantId: "0123456789abcdef",
    keyId: 1,
    notBefore: T0,
    notAfter: T0 + 3600,
    perms: PERM_UNLOCK | PERM_LOCK,
    uses: 1,
    ...over,
  };
}

const minted = new Map<string, Uint8Array>();

/** A grant signed by key (Ed25519 is deterministic, so equal inputs are signed once and reused). */
export function mint(key: TestKey, over: Partial<GrantFields> = {}): Uint8Array {
  const f = fields({ keyId: key.id, ...over });
  const memoKey = Buffer.from(key.secretKey).toString("hex") + JSON.stringify({ ...f, holder: f.holder ? Array.from(f.holder) : null });
  let g = minted.get(memoKey);
  if (!g) {
    g = encodeGrant(f, nacl.sign.detached(grantMessage(grantBody(f)), key.secretKey));
    minted.set(memoKey, g);
  }
  return g.slice();
}

export function holderProof(holder: TestKey, boxId: string, grantId: string, challenge: Uint8Array) {
  return { challenge, signature: nacl.sign.detached(holderMessage(boxId, grantId, challenge), holder.secretKey) };
}

const L = (1n << 252n) + 27742317777372353535851937790883648493n;

function scalar(b: Uint8Array): bigint {
  let v = 0n;
  for (let i = 31; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  return v;
}

/** tweetnacl plus the S < L check it lacks: the host-side strict reference. */
export function naclStrict(sig: Uint8Array, msg: Uint8Array, pk: Uint8Array): boolean {
  if (sig.length !== 64 || pk.length !== 32) return false;
  if (scalar(sig.subarray(32)) >= L) return false;
  return nacl.sign.detached.verify(msg, sig, pk);
}

/** The same signature with S replaced by S + L: tweetnacl accepts it, RFC 8032 does not. */
export function malleate(grant: Uint8Array): Uint8Array {
  const out = grant.slice();
  let s = scalar(grant.subarray(grant.length - 32)) + L;
  for (let i = 0; i < 32; i++) {
    out[grant.length - 32 + i] = Number(s & 0xffn);
    s >>= 8n;
  }
  return out;
}

export { firmwareVerify };

/** A counting wrapper, to prove which paths reach cryptography. */
export function counting(v: (s: Uint8Array, m: Uint8Array, p: Uint8Array) => boolean) {
  const f = (s: Uint8Array, m: Uint8Array, p: Uint8Array) => {
    f.calls++;
    return v(s, m, p);
  };
  f.calls = 0;
  return f;
}

export class MemState implements GrantState {
  keys: Record<number, Uint8Array> = {};
  revokedKeys: Record<number, boolean> = {};
  revokedGrants: Record<string, boolean> = {};
  uses: Record<string, number> = {};
  constructor(keys: TestKey[]) {
    for (const k of keys) this.keys[k.id] = k.publicKey;
  }
  issuerKey(keyId: number) {
    return this.keys[keyId];
  }
  keyRevoked(keyId: number) {
    return !!this.revokedKeys[keyId];
  }
  grantRevoked(grantId: string) {
    return !!this.revokedGrants[grantId];
  }
  usesOf(grantId: string) {
    return this.uses[grantId] || 0;
  }
}

export function at(now: number, known = true): ClockState {
  return { known, now };
}

/** Memoises a verifier by its exact inputs (as the pre-verification cache will), so long tests stay fast. */
export function memo(v: (s: Uint8Array, m: Uint8Array, p: Uint8Array) => boolean) {
  const seen = new Map<string, boolean>();
  return (s: Uint8Array, m: Uint8Array, p: Uint8Array) => {
    const k = Buffer.from(s).toString("hex") + Buffer.from(m).toString("hex") + Buffer.from(p).toString("hex");
    let r = seen.get(k);
    if (r === undefined) {
      r = v(s, m, p);
      seen.set(k, r);
    }
    return r;
  };
}

const SPKI_ED25519 = Buffer.from("302a300506032b6570032100", "hex");

/** Node's native (OpenSSL) Ed25519 plus the S < L check: a fast strict reference for mass fuzzing. */
export function nodeStrict(sig: Uint8Array, msg: Uint8Array, pk: Uint8Array): boolean {
  if (sig.length !== 64 || pk.length !== 32) return false;
  if (scalar(sig.subarray(32)) >= L) return false;
  const key = createPublicKey({ key: Buffer.concat([SPKI_ED25519, Buffer.from(pk)]), format: "der", type: "spki" });
  return cryptoVerify(null, msg, key, sig);
}
