/*
 * The native Ed25519 verifier on the board (hal/espruino/native/ed25519.c,
 * built into dist/ed25519.bin and installed in the code area's blob
 * region). Machine code is only ever called once the installed bytes hash
 * to the SHA-256 this firmware was built with: a blob that is missing,
 * torn or from another build is never called, and the reason is handed
 * back so the firmware can say why it verifies in JavaScript instead.
 *
 * The call: E.nativeCall(address | 1, "int(int,int,int,int)") (Thumb code,
 * four word arguments; Espruino allows no more), with the addresses of the
 * signature (64 bytes), the public key (32), SHA-512(R || A || message)
 * (64) and the blob's scratch buffer, all inside one buffer allocated once
 * and checked to be flat (E.getAddressOf(view, true) is 0 otherwise). The
 * address is asked for at every call, so the buffer may move. 1 means valid.
 */

export { ED25519_BLOB_NAME } from "../../../firmware/codearea/blobs";

/** The installed blob: the address of its first byte and its bytes mapped in place. */
export interface NativeBlob {
  addr: number;
  bytes: Uint8Array;
}

export interface NativeVerifierOptions {
  /** Finds the installed blob, or says why there is none (the code area's answer). */
  find: () => NativeBlob | string;
  /** The blob's SHA-256 (hex) as this firmware was built with it; undefined when the build had no blob. */
  sha256: string | undefined;
  /** Bytes of scratch the blob asks for (ED25519_SCRATCH_BYTES). */
  scratchBytes: number;
  /** SHA-256 (the board's native one). */
  hash: (data: Uint8Array) => Uint8Array;
}

/** True when signature and publicKey verify against digest = SHA-512(R || A || message); undefined when the call could not be made. */
export type NativeVerify = (signature: Uint8Array, publicKey: Uint8Array, digest: Uint8Array) => boolean | undefined;

const IO = 64 + 32 + 64;

function toHex(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += (b[i] < 16 ? "0" : "") + b[i].toString(16);
  return s;
}

/**
 * The native verifier, or why there is none: not_built (the firmware was
 * built without the blob), no_native_call (an interpreter without
 * E.nativeCall), the code area's reason (missing, corrupt, no_area, ...),
 * wrong_blob (installed bytes that are not this build's), no_flat_memory.
 */
export function bindNativeVerifier(o: NativeVerifierOptions): NativeVerify | string {
  if (!o.sha256) return "not_built";
  if (typeof E.nativeCall !== "function" || typeof E.getAddressOf !== "function") return "no_native_call";
  const blob = o.find();
  if (typeof blob === "string") return blob;
  if (toHex(o.hash(blob.bytes)) !== o.sha256.toLowerCase()) return "wrong_blob";
  const io = new Uint8Array(IO + o.scratchBytes);
  if (!E.getAddressOf(io, true)) return "no_flat_memory";
  const call = E.nativeCall(blob.addr | 1, "int(int,int,int,int)");
  return function (signature: Uint8Array, publicKey: Uint8Array, digest: Uint8Array): boolean | undefined {
    if (signature.length !== 64 || publicKey.length !== 32 || digest.length !== 64) return false;
    io.set(signature, 0);
    io.set(publicKey, 64);
    io.set(digest, 96);
    const at = E.getAddressOf(io, true);
    if (!at) return undefined;
    return call(at, at + 64, at + 96, at + IO) === 1;
  };
}
