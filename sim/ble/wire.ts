/**
 * The simulator's socket hop between a driver client and the simulated
 * radio (SimBle). It carries the same 20-byte BLE frames the real radio
 * does, plus the few link events a real BLE stack reports.
 *
 * Byte format: a TCP stream of records. Each record is one length byte N
 * (1..255) followed by N bytes: the record type, then its body.
 *   client -> box
 *   'H' (0x48) hello       body: 1 byte flags. bit 0 = "this central paired with
 *                          LE Secure Connections": a SIMULATION of pairing (no keys
 *                          are exchanged; the simulated link is marked encrypted).
 *                          Must be the first record; the radio then connects.
 *   'P' (0x50) pair        no body: pair now, on an already connected link.
 *   'R' (0x52) read info   no body: read the info characteristic.
 *   'W' (0x57) write       body: one request frame (1..20 bytes).
 *   box -> client
 *   'C' (0x43) connected   body: 1 byte, 1 when the link is encrypted.
 *   'X' (0x58) refused     body: reason (ASCII), e.g. "radio_busy"; the socket closes.
 *   'I' (0x49) info        body: the info characteristic's value.
 *   'N' (0x4E) notify      body: one response frame (1..20 bytes).
 *   'D' (0x44) dropped     body: reason (ASCII): the box disconnected the link,
 *                          or the client broke this wire format; the socket closes.
 */
export const REC_HELLO = 0x48;
export const REC_PAIR = 0x50;
export const REC_READ = 0x52;
export const REC_WRITE = 0x57;
export const REC_CONNECTED = 0x43;
export const REC_REFUSED = 0x58;
export const REC_INFO = 0x49;
export const REC_NOTIFY = 0x4e;
export const REC_DROPPED = 0x44;

export const HELLO_ENCRYPTED = 0x01;

/** Port the desktop simulator's BLE bridge listens on unless told otherwise. */
export const DEFAULT_BLE_PORT = 47010;
export const DEFAULT_BLE_HOST = "127.0.0.1";

export function record(type: number, body?: Uint8Array | string): Buffer {
  const b = body === undefined ? Buffer.alloc(0) : typeof body === "string" ? Buffer.from(body, "latin1") : Buffer.from(body);
  if (b.length > 254) throw new Error("wire record body over 254 bytes");
  return Buffer.concat([Buffer.from([b.length + 1, type]), b]);
}

export interface WireRecord {
  type: number;
  body: Buffer;
}

/** Splits a byte stream into records; bytes of an unfinished record wait for the next chunk. */
export class RecordReader {
  private pending = Buffer.alloc(0);

  /** Returns the complete records, or "wire_garbled" for a zero length byte. */
  push(chunk: Buffer): WireRecord[] | "wire_garbled" {
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const out: WireRecord[] = [];
    while (buf.length > 0) {
      const n = buf[0];
      if (n === 0) return "wire_garbled";
      if (buf.length < 1 + n) break;
      out.push({ type: buf[1], body: Buffer.from(buf.subarray(2, 1 + n)) });
      buf = buf.subarray(1 + n);
    }
    this.pending = Buffer.from(buf);
    return out;
  }
}
