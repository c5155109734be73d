import { createHash } from "crypto";
import fc from "fast-check";
import { sha512, sha512js, useNativeSha512 } from "../../firmware/crypto/sha512";
import { useAccel } from "../../firmware/crypto/ed25519";
import { simAccel } from "../../sim/hw/system";
import { toHex } from "./helpers";

function nodeSha512(d: Uint8Array): string {
  return createHash("sha512").update(d).digest("hex");
}

afterEach(() => useAccel(undefined));

describe("sha512 (JavaScript)", () => {
  test("FIPS 180-4 example 'abc' matches Node", () => {
    const abc = new Uint8Array([0x61, 0x62, 0x63]);
    expect(toHex(sha512js(abc))).toBe(nodeSha512(abc));
    expect(toHex(sha512js(abc)).slice(0, 16)).toBe("ddaf35a193617aba");
  });

  test("every length around the padding and block boundaries matches Node", () => {
    for (let n = 0; n <= 300; n++) {
      const d = new Uint8Array(n);
      for (let i = 0; i < n; i++) d[i] = (i * 131 + n) & 0xff;
      expect(toHex(sha512js(d))).toBe(nodeSha512(d));
    }
  });

  test("random inputs match Node", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (d) => toHex(sha512js(d)) === nodeSha512(d)),
      { numRuns: 200, seed: 5121 },
    );
  });

  test("a long input (several thousand blocks) matches Node", () => {
    const d = new Uint8Array(300000).map((_, i) => (i * 7) & 0xff);
    expect(toHex(sha512js(d))).toBe(nodeSha512(d));
  });
});

describe("sha512 dispatch", () => {
  test("without natives sha512 is the JavaScript version", () => {
    useAccel(undefined);
    const d = new Uint8Array([1, 2, 3]);
    expect(toHex(sha512(d))).toBe(nodeSha512(d));
    expect(toHex(sha512(d))).toBe(toHex(sha512js(d)));
  });

  test("with a native SHA-512 handed in, sha512 uses it", () => {
    const accel = simAccel();
    let calls = 0;
    const native = accel.sha512!;
    accel.sha512 = (d) => {
      calls++;
      return native(d);
    };
    useAccel(accel);
    const d = new Uint8Array([9, 8, 7, 6]);
    expect(toHex(sha512(d))).toBe(nodeSha512(d));
    expect(calls).toBe(1);
    useNativeSha512(undefined);
    expect(toHex(sha512(d))).toBe(nodeSha512(d));
    expect(calls).toBe(1);
  });

  test("a board without native SHA-512 (nRF52832 model) falls back to JavaScript", () => {
    useAccel(simAccel({ sha512: false }));
    const d = new Uint8Array([5, 5, 5]);
    expect(toHex(sha512(d))).toBe(nodeSha512(d));
  });
});
