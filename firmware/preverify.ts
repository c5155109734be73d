import { Clock, Handle } from "../hal";
import { VerifiedCache } from "./crypto/verified-cache";
import { EventBus } from "./events";
import { decodeGrant } from "./grants/codec";
import { sameBytes } from "./crypto/keycheck";
import { bytesKey } from "./store/bytes";

/** Length of the grant signature's domain prefix ("keybox grant v1" and a 0 byte, grants/codec.ts). */
const GRANT_DOMAIN_BYTES = 16;

type Verify = (sig: Uint8Array, msg: Uint8Array, pk: Uint8Array) => boolean;

/**
 * Grants pushed over cellular ahead of a delivery are verified when they
 * arrive; the exact signed bytes and signature are remembered, so the same
 * grant presented at the trunk costs a hash and a lookup instead of an
 * Ed25519 verification. Only the signature is vouched for: window, box,
 * revocation and use counts are decided afresh on every presentation, and
 * revoking a grant or a key, or rotating keys, drops their entries.
 */
export class PreVerifier {
  private trusted: Array<{ id: number; pk: Uint8Array | undefined }>;
  /** bytesKey(public key) -> id, of the trusted keys not revoked (the decision's verify() names a key by its bytes). */
  private idOf: { [pk: string]: number } = {};
  private readonly sub: Handle;

  constructor(
    private readonly o: {
      cache: VerifiedCache;
      verify: Verify;
      boxId: string;
      clock: Clock;
      events: EventBus;
      issuerKey: (keyId: number) => Uint8Array | undefined;
      keyIds: () => number[];
    }
  ) {
    this.trusted = this.keys();
    this.sub = o.events.on((e) => {
      if (e.type !== "grants" || !e.d) return;
      if (e.reason === "revoked_grant") o.cache.forgetGrant(String(e.d.g));
      if (e.reason === "revoked_key") {
        o.cache.forgetKey(Number(e.d.k));
        this.trusted = this.keys();
      }
      if (e.reason === "keys") {
        // a key id that went away or now names other bytes: its entries go
        for (let i = 0; i < this.trusted.length; i++) {
          const t = this.trusted[i];
          const pk = o.issuerKey(t.id);
          if (!pk || !t.pk || !sameBytes(pk, t.pk)) o.cache.forgetKey(t.id);
        }
        this.trusted = this.keys();
      }
    });
  }

  /**
   * A verify() for the access decision that answers from the cache when it
   * can. A grant that verifies here is remembered too: a grant verified
   * once is never verified again while it lives, so it is served even while
   * a stranger spends the box's budget of verifications.
   */
  verify(sig: Uint8Array, msg: Uint8Array, pk: Uint8Array): boolean {
    const kid = this.keyIdOf(pk);
    // the signature's end rules a never-seen grant out without a hash (it is on its way to the motor)
    if (kid !== undefined && this.o.cache.mayHave(sig, kid) && this.o.cache.has(joined(pk, msg, sig), kid)) return true;
    const ok = this.o.verify(sig, msg, pk);
    const self = this;
    // Remembering costs a journal write: not before the motor starts (events.later waits for the gatekeeper's hold).
    if (ok && kid !== undefined)
      this.o.events.later(function () {
        self.learn(sig, msg, pk, kid);
      });
    return ok;
  }

  /** Whether these grant bytes were verified before under the key their id names now (no verification needed). */
  knows(bytes: Uint8Array): boolean {
    const d = decodeGrant(bytes);
    if (!d.ok) return false;
    const g = d.grant;
    if (!this.o.cache.mayHave(g.signature, g.keyId)) return false;
    const pk = this.o.issuerKey(g.keyId);
    return !!pk && this.o.cache.has(joined(pk, g.signed, g.signature), g.keyId);
  }

  /** Remembers a grant whose signature just verified (not a holder proof: those are per challenge). */
  private learn(sig: Uint8Array, msg: Uint8Array, pk: Uint8Array, kid: number): void {
    if (msg.length <= GRANT_DOMAIN_BYTES) return;
    const d = decodeGrant(joined(msg.subarray(GRANT_DOMAIN_BYTES), sig));
    if (!d.ok || d.grant.keyId !== kid || !sameBytes(d.grant.signed, msg)) return;
    this.o.cache.remember(joined(pk, msg, sig), d.grant.grantId, kid, d.grant.notAfter);
  }

  /** Verifies a pushed grant now and remembers it; returns undefined, or why it was not remembered. */
  push(bytes: Uint8Array): string | undefined {
    const d = decodeGrant(bytes);
    if (!d.ok) return d.reason;
    const g = d.grant;
    if (g.boxId !== this.o.boxId) return "wrong_box";
    const pk = this.o.issuerKey(g.keyId);
    if (!pk) return "unknown_key";
    if (!this.o.verify(g.signature, g.signed, pk)) return "bad_signature";
    this.o.cache.prune(Math.floor(this.o.clock.wall()));
    return this.o.cache.remember(joined(pk, g.signed, g.signature), g.grantId, g.keyId, g.notAfter) ? undefined : "cache_store";
  }

  close(): void {
    this.sub.cancel();
    this.o.cache.close();
  }

  /** The trusted keys as they are now; idOf follows. */
  private keys(): Array<{ id: number; pk: Uint8Array | undefined }> {
    const ids = this.o.keyIds();
    const out: Array<{ id: number; pk: Uint8Array | undefined }> = [];
    this.idOf = {};
    for (let i = 0; i < ids.length; i++) {
      const pk = this.o.issuerKey(ids[i]);
      out.push({ id: ids[i], pk: pk });
      if (pk) this.idOf[bytesKey(pk)] = ids[i];
    }
    return out;
  }

  private keyIdOf(pk: Uint8Array): number | undefined {
    const k = bytesKey(pk);
    return this.idOf.hasOwnProperty(k) ? this.idOf[k] : undefined;
  }
}

function joined(a: Uint8Array, b: Uint8Array, c?: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length + (c ? c.length : 0));
  out.set(a, 0);
  out.set(b, a.length);
  if (c) out.set(c, a.length + b.length);
  return out;
}
