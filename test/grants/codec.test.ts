import fc from "fast-check";
import nacl from "tweetnacl";
import {
  decodeGrant,
  encodeGrant,
  grantBody,
  GRANT_MAX_BYTES,
  GrantFields,
  holderMessage,
  MAX_WINDOW_S,
} from "../../firmware/grants/codec";
import { decodeRevocation, encodeRevocation, revocationBody, revocationMessage } from "../../firmware/grants/revocation";
import { parseProvisioning } from "../../firmware/grants/provision";
import { T0, fields, mint, testKey, naclStrict } from "./helpers";

const k1 = testKey(1);
const sig0 = new Uint8Array(64).fill(0x11);

describe("grant codec", () => {
  test("round trip and stated sizes", () => {
    const g = mint(k1);
    expect(g.length).toBe(96);
    const d = decodeGrant(g);
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    expect(d.grant).toMatchObject(fields());
    expect(naclStrict(d.grant.signature, d.grant.signed, k1.publicKey)).toBe(true);
    expect(Buffer.from(d.grant.signed.subarray(0, 16)).toString("latin1")).toBe("keybox grant v1\0");
    const big = encodeGrant(fields({ boxId: "X".repeat(16), holder: new Uint8Array(32).fill(3) }), sig0);
    expect(big.length).toBe(GRANT_MAX_BYTES);
    expect(GRANT_MAX_BYTES).toBe(135);
  });

  test("the encoder refuses every out-of-range field", () => {
    const bad: Array<Partial<GrantFields>> = [
      { boxId: "" },
      { boxId: "X".repeat(17) },
      { boxId: "KB 1" },
      { grantId: "0000000000000000" },
      { grantId: "0123456789ABCDEF" },
      { grantId: "0123" },
      { keyId: 0 },
      { keyId: 65536 },
      { notBefore: 1000 },
      { notAfter: T0 },
      { notAfter: T0 + MAX_WINDOW_S + 1 },
      { notAfter: 2 ** 32 },
      { perms: 0 },
      { perms: 8 },
      { uses: 0 },
      { uses: 256 },
      { uses: 1.5 },
      { holder: new Uint8Array(31) },
    ];
    for (const b of bad) expect(() => grantBody(fields(b))).toThrow(/^grant_/);
    expect(() => grantBody(fields({ notAfter: T0 + MAX_WINDOW_S }))).not.toThrow();
  });

  test("the decoder names what is wrong", () => {
    const g = mint(k1);
    const n = 9;
    const reason = (b: Uint8Array) => {
      const d = decodeGrant(b);
      return d.ok ? "ok" : d.reason;
    };
    const set = (i: number, v: number) => {
      const c = g.slice();
      c[i] = v;
      return reason(c);
    };
    expect(set(0, 2)).toBe("grant_version");
    expect(set(1, 0)).toBe("grant_box_id");
    expect(set(1, 10)).not.toBe("ok");
    expect(set(2, 0x20)).toBe("grant_box_id");
    expect(set(20 + n, 0)).toBe("grant_perms");
    expect(set(20 + n, 9)).toBe("grant_perms");
    expect(set(21 + n, 0)).toBe("grant_uses");
    expect(set(22 + n, 2)).toBe("grant_holder");
    expect(set(22 + n, 1)).toBe("grant_length");
    expect(reason(Uint8Array.from([...g, 0]))).toBe("grant_length");
    expect(reason(new Uint8Array(1000))).toBe("grant_length");
    const id = (bytes: number[]) => {
      const c = g.slice();
      c.set(bytes, 2 + n);
      const d = decodeGrant(c);
      return d.ok ? d.grant.grantId : d.reason;
    };
    expect(id([0, 0, 0, 0, 0, 0, 0, 0])).toBe("grant_grant_id");
    expect(id([0, 0, 0, 0, 0, 0, 0, 1])).toBe("0000000000000001");
    expect(id([0xff, 0x80, 0x0a, 0, 0x7f, 0xff, 0xff, 0xfe])).toBe("ff800a007ffffffe");
  });

  test("canonical: every byte string that decodes re-encodes to itself", () => {
    const good = mint(k1, { holder: new Uint8Array(32).fill(9) });
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(good.length - 1), fc.nat(255)), { maxLength: 4 }), (edits) => {
        const b = good.slice();
        for (const [i, v] of edits) b[i] = v;
        const d = decodeGrant(b);
        if (!d.ok) return true;
        return Buffer.from(encodeGrant(d.grant, d.grant.signature)).equals(Buffer.from(b));
      }),
      { numRuns: 3000 },
    );
  });

  test("holder message binds box, grant and challenge", () => {
    const a = holderMessage("KB-1", "0123456789abcdef", new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
    const b = holderMessage("KB-1", "0123456789abcdee", new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
    expect(Buffer.from(a.subarray(0, 17)).toString("latin1")).toBe("keybox holder v1\0");
  });
});

describe("revocation codec", () => {
  test("grant and key revocations round trip, signed with their own domain", () => {
    const f = { boxId: "KB-000001", grantId: "0123456789abcdef", until: T0 + 3600, signerKeyId: 1 };
    const body = revocationBody(f);
    const rec = encodeRevocation(f, nacl.sign.detached(revocationMessage(body), k1.secretKey));
    expect(rec.length).toBe(81 + 9);
    const d = decodeRevocation(rec);
    expect(d.ok).toBe(true);
    if (d.ok) {
      expect(d.rev).toMatchObject(f);
      expect(naclStrict(d.rev.signature, d.rev.signed, k1.publicKey)).toBe(true);
      expect(Buffer.from(d.rev.signed.subarray(0, 17)).toString("latin1")).toBe("keybox revoke v1\0");
    }
    const kf = { boxId: "KB-000001", keyId: 77, until: 0, signerKeyId: 1 };
    const kd = decodeRevocation(encodeRevocation(kf, sig0));
    expect(kd.ok && kd.rev.keyId).toBe(77);
    expect(kd.ok && kd.rev.grantId).toBe(undefined);
  });

  test("bad revocations are refused before cryptography", () => {
    const kf = { boxId: "KB-000001", keyId: 77, until: 0, signerKeyId: 1 };
    const rec = encodeRevocation(kf, sig0);
    const r = (b: Uint8Array) => {
      const d = decodeRevocation(b);
      return d.ok ? "ok" : d.reason;
    };
    const mod = (i: number, v: number) => {
      const c = rec.slice();
      c[i] = v;
      return r(c);
    };
    expect(mod(0, 2)).toBe("revocation_version");
    expect(mod(1, 3)).toBe("revocation_kind");
    expect(mod(3 + 9, 1)).toBe("revocation_target");
    expect(mod(11 + 9, 1)).toBe("revocation_until");
    expect(r(Uint8Array.from([...rec, 0]))).toBe("revocation_length");
    expect(() => revocationBody({ boxId: "KB-1", grantId: "0123456789abcdef", until: 5, signerKeyId: 1 })).toThrow();
    expect(() => revocationBody({ boxId: "KB-1", keyId: 3, until: 5, signerKeyId: 1 })).toThrow();
  });
});

describe("provisioning file", () => {
  const hex = Buffer.from(k1.publicKey).toString("hex");
  test("accepts the documented shape", () => {
    const p = parseProvisioning({ format: "keybox-provision/1", boxId: "KB-000001", keys: [{ id: 1, publicKey: hex }] });
    expect(typeof p).toBe("object");
    if (typeof p === "object") {
      expect(p.boxId).toBe("KB-000001");
      expect(Buffer.from(p.keys[0].publicKey).equals(Buffer.from(k1.publicKey))).toBe(true);
    }
  });
  test("refuses anything else with a code", () => {
    const base = { format: "keybox-provision/1", boxId: "KB-000001", keys: [{ id: 1, publicKey: hex }] };
    expect(parseProvisioning(null)).toBe("provision_json");
    expect(parseProvisioning({ ...base, format: "x" })).toBe("provision_format");
    expect(parseProvisioning({ ...base, boxId: "a b" })).toBe("provision_box_id");
    expect(parseProvisioning({ ...base, keys: [] })).toBe("provision_keys");
    expect(parseProvisioning({ ...base, keys: [{ id: 0, publicKey: hex }] })).toBe("provision_key_id");
    expect(parseProvisioning({ ...base, keys: [{ id: 1, publicKey: hex }, { id: 1, publicKey: hex }] })).toBe("provision_key_id");
    expect(parseProvisioning({ ...base, keys: [{ id: 1, publicKey: "00" }] })).toBe("provision_public_key");
  });
});
