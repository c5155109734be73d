import nacl from "tweetnacl";
import { randomBytes } from "crypto";
import { Command, CommandKind, encodeCommandBody, signedMessage } from "../../firmware/uplink/command";

/** A fresh random command id (16 hex digits). */
export function newCommandId(): string {
  return randomBytes(8).toString("hex");
}

/** The wire form of a command: body || Ed25519 signature by the issuer's 64-byte tweetnacl secret key. */
export function signCommand(c: Command, secretKey: Uint8Array): Uint8Array {
  if (secretKey.length !== 64) throw new Error("issuer secret key must be 64 bytes (tweetnacl sign secret key)");
  const body = encodeCommandBody(c);
  if (typeof body === "string") throw new Error("bad command: " + body);
  const sig = nacl.sign.detached(signedMessage(body), secretKey);
  const out = new Uint8Array(body.length + sig.length);
  out.set(body, 0);
  out.set(sig, body.length);
  return out;
}

export function makeCommand(options: { kind: CommandKind; keyId: number; boxId: string; arg?: Uint8Array; ttlS?: number; now?: number; id?: string }): Command {
  const now = options.now === undefined ? Math.floor(Date.now() / 1000) : options.now;
  return {
    kind: options.kind,
    keyId: options.keyId,
    boxId: options.boxId,
    id: options.id === undefined ? newCommandId() : options.id,
    expiry: now + (options.ttlS === undefined ? 600 : options.ttlS),
    arg: options.arg === undefined ? new Uint8Array(0) : options.arg,
  };
}

/** The 4-byte argument of a time command. */
export function timeArg(unixS: number): Uint8Array {
  const t = Math.floor(unixS);
  return new Uint8Array([(t >>> 24) & 255, (t >>> 16) & 255, (t >>> 8) & 255, t & 255]);
}
