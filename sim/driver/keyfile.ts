import nacl from "tweetnacl";
import { parseKeyFile, UsageError } from "../issuer/files";

const NOT_A_KEY = "holder key is not the issuer tool's .key file, nor 32 or 64 bytes (raw, hex or base64)";

/**
 * A holder key for --holder-key: the JSON .key file `issuer keygen` writes
 * (keybox-issuer-key/1; its .pub twin is refused with the reason), or a bare
 * 32-byte seed or 64-byte tweetnacl secret key as raw bytes, hex or base64.
 * Returns the 64-byte secret key, or why the file is not one.
 */
export function readHolderKey(data: Buffer): Uint8Array | string {
  const text = data.toString("utf8").trim();
  if (text.charAt(0) === "{") {
    try {
      const k = parseKeyFile(text, "holder key", true);
      return k.secretKey as Uint8Array;
    } catch (e) {
      if (e instanceof UsageError) return e.message.indexOf("is a public key") >= 0 ? "holder key is the public .pub file; give its secret .key twin" : e.message;
      throw e;
    }
  }
  return decodeKey(data);
}

/** A holder key as raw bytes, hex or base64: a 32-byte seed or a 64-byte tweetnacl secret key. */
export function decodeKey(data: Buffer): Uint8Array | string {
  const text = data.toString("latin1").trim();
  let raw: Uint8Array;
  if (/^([0-9a-fA-F]{64}|[0-9a-fA-F]{128})$/.test(text)) raw = new Uint8Array(Buffer.from(text, "hex"));
  else if (data.length === 32 || data.length === 64) raw = new Uint8Array(data);
  else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(text.replace(/\s+/g, ""))) raw = new Uint8Array(Buffer.from(text.replace(/\s+/g, "").replace(/-/g, "+").replace(/_/g, "/"), "base64"));
  else return NOT_A_KEY;
  if (raw.length === 32) return nacl.sign.keyPair.fromSeed(raw).secretKey;
  if (raw.length === 64) return raw;
  return NOT_A_KEY;
}
