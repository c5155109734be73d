/**
 * MQTT 3.1.1 packets, lean enough for Espruino: mqtt-packet (the Node codec)
 * needs Buffer, bl, readable-stream and process.nextTick and bundles to
 * ~165 KB minified, more than the board's whole 80 KiB Storage, so the
 * firmware carries this one and tests hold it byte for byte to mqtt-packet.
 *
 * Byte format (MQTT 3.1.1, OASIS section 2-3): a fixed header byte (packet
 * type in the high nibble; flags in the low nibble: for PUBLISH dup<<3 |
 * qos<<1 | retain, 0b0010 for SUBSCRIBE/UNSUBSCRIBE, 0 for every other
 * type here), then the remaining length as a base-128 varint of 1 to 4 bytes
 * in its shortest form (low 7 bits first, bit 7 = more), then the variable
 * header and payload.
 * Integers are big-endian u16; strings are a u16 byte length then UTF-8;
 * binary fields (password, will payload) are a u16 length then bytes; a
 * PUBLISH payload is whatever is left of the remaining length. CONNECT:
 * "MQTT", level 4, flags (username 0x80, password 0x40, will retain 0x20,
 * will qos <<3, will 0x04, clean session 0x02), keep-alive, client id,
 * [will topic, will payload], [username], [password]. CONNACK: session
 * present bit, return code. PUBLISH: topic, packet id when qos > 0,
 * payload. PUBACK/UNSUBACK: packet id. SUBSCRIBE: packet id, then
 * (topic, qos byte) pairs. SUBACK: packet id, then one return code per
 * topic (0..2 or 0x80). UNSUBSCRIBE: packet id, then topics.
 * PINGREQ/PINGRESP/DISCONNECT have no body.
 */

export interface Will {
  topic: string;
  payload: Uint8Array;
  qos: number;
  retain: boolean;
}

export interface Connect {
  cmd: "connect";
  clientId: string;
  keepalive: number;
  clean: boolean;
  will?: Will;
  username?: string;
  password?: Uint8Array;
}
export interface Connack {
  cmd: "connack";
  sessionPresent: boolean;
  returnCode: number;
}
export interface Publish {
  cmd: "publish";
  topic: string;
  payload: Uint8Array;
  qos: number;
  dup: boolean;
  retain: boolean;
  /** Present exactly when qos > 0. */
  messageId?: number;
  /**
   * Set only by Parser for a PUBLISH larger than maxPacket: the payload's
   * whole length; payload then holds only its first OVERSIZE_HEAD bytes and
   * the rest was discarded unread.
   */
  oversize?: number;
}
export interface Puback {
  cmd: "puback";
  messageId: number;
}
export interface Subscribe {
  cmd: "subscribe";
  messageId: number;
  subscriptions: Array<{ topic: string; qos: number }>;
}
export interface Suback {
  cmd: "suback";
  messageId: number;
  granted: number[];
}
export interface Unsubscribe {
  cmd: "unsubscribe";
  messageId: number;
  unsubscriptions: string[];
}
export interface Unsuback {
  cmd: "unsuback";
  messageId: number;
}
export interface Bare {
  cmd: "pingreq" | "pingresp" | "disconnect";
}

export type Packet = Connect | Connack | Publish | Puback | Subscribe | Suback | Unsubscribe | Unsuback | Bare;

/** Error codes from encode() and Parser.feed(). */
export const E_LENGTH = "mqtt_length";
export const E_TOO_BIG = "mqtt_too_big";
export const E_TYPE = "mqtt_type";
export const E_FLAGS = "mqtt_flags";
export const E_QOS = "mqtt_qos";
export const E_UTF8 = "mqtt_utf8";
export const E_PROTOCOL = "mqtt_protocol";
export const E_ID = "mqtt_id";
export const E_FIELD = "mqtt_field";

const TYPES = ["", "connect", "connack", "publish", "puback", "", "", "", "subscribe", "suback", "unsubscribe", "unsuback", "pingreq", "pingresp", "disconnect", ""];

/** UTF-8 bytes of s (surrogate pairs joined; a lone surrogate becomes U+FFFD, as Buffer does). */
export function utf8Encode(s: string): Uint8Array {
  const out = new Uint8Array(utf8Length(s));
  let o = 0;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0xd800 && c < 0xe000) {
      const n = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (c < 0xdc00 && n >= 0xdc00 && n < 0xe000) {
        c = 0x10000 + ((c - 0xd800) << 10) + (n - 0xdc00);
        i++;
      } else c = 0xfffd;
    }
    if (c < 0x80) out[o++] = c;
    else if (c < 0x800) {
      out[o++] = 0xc0 | (c >> 6);
      out[o++] = 0x80 | (c & 63);
    } else if (c < 0x10000) {
      out[o++] = 0xe0 | (c >> 12);
      out[o++] = 0x80 | ((c >> 6) & 63);
      out[o++] = 0x80 | (c & 63);
    } else {
      out[o++] = 0xf0 | (c >> 18);
      out[o++] = 0x80 | ((c >> 12) & 63);
      out[o++] = 0x80 | ((c >> 6) & 63);
      out[o++] = 0x80 | (c & 63);
    }
  }
  return out;
}

export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d < 0xe000) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/** Decodes strict UTF-8 (no overlongs, no surrogates); undefined when malformed. */
export function utf8Decode(b: Uint8Array, start: number, end: number): string | undefined {
  // every variable is declared up front with a value: Espruino re-runs a bare `var` inside a loop
  let s = "";
  let i = start;
  let c = 0;
  let need = 0;
  let cp = 0;
  let min = 0;
  let x = 0;
  while (i < end) {
    c = b[i++];
    if (c < 0x80) {
      s += String.fromCharCode(c);
      continue;
    }
    if (c >= 0xc2 && c < 0xe0) {
      need = 1;
      cp = c & 31;
      min = 0x80;
    } else if (c >= 0xe0 && c < 0xf0) {
      need = 2;
      cp = c & 15;
      min = 0x800;
    } else if (c >= 0xf0 && c < 0xf5) {
      need = 3;
      cp = c & 7;
      min = 0x10000;
    } else return undefined;
    if (i + need > end) return undefined;
    while (need-- > 0) {
      x = b[i++];
      if ((x & 0xc0) !== 0x80) return undefined;
      cp = (cp << 6) | (x & 63);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000)) return undefined;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      s += String.fromCharCode(0xd800 + (cp >> 10), 0xdc00 + (cp & 1023));
    } else s += String.fromCharCode(cp);
  }
  return s;
}

function badId(id: number | undefined): boolean {
  return typeof id !== "number" || !(id >= 1 && id <= 65535) || id % 1 !== 0;
}

function badQos(q: number, max: number): boolean {
  return typeof q !== "number" || !(q >= 0 && q <= max) || q % 1 !== 0;
}

/** Encoded strings kept while sizing, so each is encoded once. */
interface Parts {
  b: Uint8Array[];
}

function str(p: Parts, s: string): number {
  const e = utf8Encode(s);
  p.b.push(e);
  return 2 + e.length;
}

/**
 * The bytes of one packet, or an error code when the packet cannot be sent
 * as given (bad id, qos, field too long, password without username).
 */
export function encode(p: Packet): Uint8Array | string {
  const parts: Parts = { b: [] };
  let first = 0;
  let len = 0;
  let body: (o: Uint8Array, at: number) => void = noBody;
  switch (p.cmd) {
    case "connect": {
      if (typeof p.keepalive !== "number" || !(p.keepalive >= 0 && p.keepalive <= 65535) || p.keepalive % 1) return E_FIELD;
      if (!p.clientId && !p.clean) return E_FIELD;
      if (p.password !== undefined && p.username === undefined) return E_FIELD;
      if (p.will && badQos(p.will.qos, 2)) return E_QOS;
      len = 10 + str(parts, p.clientId);
      if (p.will) {
        len += str(parts, p.will.topic) + 2 + p.will.payload.length;
        parts.b.push(p.will.payload);
      }
      if (p.username !== undefined) len += str(parts, p.username);
      if (p.password !== undefined) {
        len += 2 + p.password.length;
        parts.b.push(p.password);
      }
      first = 0x10;
      let flags = p.clean ? 2 : 0;
      if (p.will) flags |= 4 | (p.will.qos << 3) | (p.will.retain ? 0x20 : 0);
      if (p.username !== undefined) flags |= 0x80;
      if (p.password !== undefined) flags |= 0x40;
      const ka = p.keepalive;
      body = function (o, at) {
        o.set([0, 4, 77, 81, 84, 84, 4, flags, ka >> 8, ka & 255], at);
        putParts(o, at + 10, parts.b);
      };
      break;
    }
    case "connack":
      if (badQos(p.returnCode, 255)) return E_FIELD;
      first = 0x20;
      len = 2;
      body = function (o, at) {
        o[at] = p.sessionPresent ? 1 : 0;
        o[at + 1] = p.returnCode;
      };
      break;
    case "publish": {
      if (badQos(p.qos, 2)) return E_QOS;
      if (p.qos > 0 && badId(p.messageId)) return E_ID;
      len = str(parts, p.topic) + (p.qos > 0 ? 2 : 0) + p.payload.length;
      if (parts.b[0].length > 65535) return E_FIELD;
      first = 0x30 | (p.dup ? 8 : 0) | (p.qos << 1) | (p.retain ? 1 : 0);
      const id = p.qos > 0 ? (p.messageId as number) : -1;
      body = function (o, at) {
        const t = parts.b[0];
        at = putStr(o, at, t);
        if (id >= 0) {
          o[at++] = id >> 8;
          o[at++] = id & 255;
        }
        o.set(p.payload, at);
      };
      break;
    }
    case "puback":
    case "unsuback":
      if (badId(p.messageId)) return E_ID;
      first = p.cmd === "puback" ? 0x40 : 0xb0;
      len = 2;
      body = function (o, at) {
        o[at] = p.messageId >> 8;
        o[at + 1] = p.messageId & 255;
      };
      break;
    case "subscribe":
    case "unsubscribe": {
      if (badId(p.messageId)) return E_ID;
      const sub = p.cmd === "subscribe";
      const list = sub ? p.subscriptions : p.unsubscriptions;
      if (!list.length) return E_FIELD;
      const qs: number[] = [];
      len = 2;
      for (let i = 0; i < list.length; i++) {
        const it = list[i] as { topic: string; qos: number } | string;
        if (typeof it === "string") len += str(parts, it);
        else {
          if (badQos(it.qos, 2)) return E_QOS;
          len += str(parts, it.topic) + 1;
          qs.push(it.qos);
        }
      }
      first = sub ? 0x82 : 0xa2;
      const mid = p.messageId;
      body = function (o, at) {
        o[at++] = mid >> 8;
        o[at++] = mid & 255;
        for (let i = 0; i < parts.b.length; i++) {
          at = putStr(o, at, parts.b[i]);
          if (sub) o[at++] = qs[i];
        }
      };
      break;
    }
    case "suback": {
      if (badId(p.messageId)) return E_ID;
      for (let i = 0; i < p.granted.length; i++) {
        const g = p.granted[i];
        if (g !== 0x80 && badQos(g, 2)) return E_QOS;
      }
      first = 0x90;
      len = 2 + p.granted.length;
      body = function (o, at) {
        o[at] = p.messageId >> 8;
        o[at + 1] = p.messageId & 255;
        o.set(p.granted, at + 2);
      };
      break;
    }
    case "pingreq":
      first = 0xc0;
      break;
    case "pingresp":
      first = 0xd0;
      break;
    case "disconnect":
      first = 0xe0;
      break;
    default:
      return E_TYPE;
  }
  for (let i = 0; i < parts.b.length; i++) if (parts.b[i].length > 65535) return E_FIELD;
  if (len > 268435455) return E_TOO_BIG;
  const vl = len < 128 ? 1 : len < 16384 ? 2 : len < 2097152 ? 3 : 4;
  const out = new Uint8Array(1 + vl + len);
  out[0] = first;
  let n = len;
  let at = 1;
  do {
    let d = n & 127;
    n = n >>> 7;
    if (n > 0) d |= 128;
    out[at++] = d;
  } while (n > 0);
  body(out, at);
  return out;
}

function noBody(): void {}

function putStr(o: Uint8Array, at: number, s: Uint8Array): number {
  o[at] = s.length >> 8;
  o[at + 1] = s.length & 255;
  o.set(s, at + 2);
  return at + 2 + s.length;
}

function putParts(o: Uint8Array, at: number, list: Uint8Array[]): void {
  for (let i = 0; i < list.length; i++) at = putStr(o, at, list[i]);
}

/** A cursor over one packet's body; every read checks bounds. */
interface Cur {
  b: Uint8Array;
  i: number;
  end: number;
  err: string;
}

function u16(c: Cur): number {
  if (c.i + 2 > c.end) {
    c.err = E_LENGTH;
    return -1;
  }
  const v = (c.b[c.i] << 8) | c.b[c.i + 1];
  c.i += 2;
  return v;
}

function bin(c: Cur): Uint8Array | undefined {
  const n = u16(c);
  if (n < 0) return undefined;
  if (c.i + n > c.end) {
    c.err = E_LENGTH;
    return undefined;
  }
  const v = c.b.slice(c.i, c.i + n);
  c.i += n;
  return v;
}

function text(c: Cur): string | undefined {
  const n = u16(c);
  if (n < 0) return undefined;
  if (c.i + n > c.end) {
    c.err = E_LENGTH;
    return undefined;
  }
  const s = utf8Decode(c.b, c.i, c.i + n);
  if (s === undefined) c.err = E_UTF8;
  c.i += n;
  return s;
}

function msgId(c: Cur): number {
  const id = u16(c);
  if (id === 0) c.err = E_ID;
  return id;
}

/** Decodes one whole packet (header byte, body bytes); an error code when malformed. */
function decodeBody(first: number, b: Uint8Array, start: number, end: number): Packet | string {
  const type = first >> 4;
  const flags = first & 15;
  const cmd = TYPES[type];
  if (!cmd) return E_TYPE;
  if (type === 3) {
    if ((flags & 6) === 6) return E_QOS;
  } else if (flags !== (type === 8 || type === 10 ? 2 : 0)) return E_FLAGS;
  const c: Cur = { b: b, i: start, end: end, err: "" };
  let p: Packet = { cmd: "pingreq" };
  switch (type) {
    case 1: {
      const proto = text(c);
      if (c.err) return c.err;
      if (proto !== "MQTT" || c.i + 4 > end || b[c.i] !== 4) return E_PROTOCOL;
      const f = b[c.i + 1];
      c.i += 2;
      if (f & 1 || (!(f & 4) && f & 0x38) || (f & 0x18) === 0x18 || (f & 0x40 && !(f & 0x80))) return E_FLAGS;
      const ka = u16(c);
      const id = text(c);
      if (c.err) return c.err;
      const cp: Connect = { cmd: "connect", clientId: id as string, keepalive: ka, clean: (f & 2) !== 0 };
      if (f & 4) {
        const wt = text(c);
        const wp = bin(c);
        if (c.err) return c.err;
        cp.will = { topic: wt as string, payload: wp as Uint8Array, qos: (f >> 3) & 3, retain: (f & 0x20) !== 0 };
      }
      if (f & 0x80) cp.username = text(c);
      if (f & 0x40) cp.password = bin(c);
      p = cp;
      break;
    }
    case 2:
      if (end - start !== 2) return E_LENGTH;
      if (b[start] > 1) return E_FLAGS;
      p = { cmd: "connack", sessionPresent: b[start] === 1, returnCode: b[start + 1] };
      c.i = end;
      break;
    case 3: {
      const qos = (flags >> 1) & 3;
      const topic = text(c);
      const pub: Publish = { cmd: "publish", topic: topic as string, payload: new Uint8Array(0), qos: qos, dup: (flags & 8) !== 0, retain: (flags & 1) !== 0 };
      if (qos > 0) pub.messageId = msgId(c);
      if (c.err) return c.err;
      pub.payload = b.slice(c.i, end);
      c.i = end;
      p = pub;
      break;
    }
    case 4:
    case 11:
      if (end - start !== 2) return E_LENGTH;
      p = { cmd: cmd as "puback", messageId: msgId(c) };
      break;
    case 8:
    case 10: {
      const mid = msgId(c);
      const subs: Array<{ topic: string; qos: number }> = [];
      const uns: string[] = [];
      while (!c.err && c.i < end) {
        const t = text(c);
        if (c.err) break;
        if (type === 8) {
          if (c.i >= end) return E_LENGTH;
          const q = b[c.i++];
          if (q > 2) return E_QOS;
          subs.push({ topic: t as string, qos: q });
        } else uns.push(t as string);
      }
      if (c.err) return c.err;
      if (!subs.length && !uns.length) return E_LENGTH;
      p = type === 8 ? { cmd: "subscribe", messageId: mid, subscriptions: subs } : { cmd: "unsubscribe", messageId: mid, unsubscriptions: uns };
      break;
    }
    case 9: {
      const mid = msgId(c);
      if (c.err) return c.err;
      const g: number[] = [];
      for (; c.i < end; c.i++) {
        const r = b[c.i];
        if (r > 2 && r !== 0x80) return E_QOS;
        g.push(r);
      }
      p = { cmd: "suback", messageId: mid, granted: g };
      break;
    }
    default:
      if (end !== start) return E_LENGTH;
      p = { cmd: cmd as "pingreq" };
  }
  if (c.err) return c.err;
  if (c.i !== end) return E_LENGTH;
  return p;
}

/** How much of an oversized PUBLISH payload the parser keeps: enough for a command's header and id. */
export const OVERSIZE_HEAD = 32;

/**
 * Reassembles packets from arbitrary chunks. feed() appends whole packets to
 * out and returns undefined, or returns an error code: the stream is then out
 * of step and the parser refuses further input until reset() (the client
 * drops the connection). A packet larger than maxPacket is an error before
 * any of its body is buffered, except a PUBLISH: its topic, packet id and
 * first OVERSIZE_HEAD payload bytes are decoded, the rest of its body is
 * skipped as it arrives, and it comes out with `oversize` set, so one
 * message too large for the box costs the link nothing (the client can
 * still acknowledge it, and the broker stops redelivering it).
 */
export class Parser {
  private buf: Uint8Array;
  private len = 0;
  private err = "";
  /** Body bytes of an oversized PUBLISH still to discard. */
  private skip = 0;
  private readonly max: number;

  constructor(options: { maxPacket?: number }) {
    const max = options.maxPacket === undefined ? 4096 : options.maxPacket;
    if (!(max >= 16)) throw new Error("maxPacket");
    this.max = max;
    this.buf = new Uint8Array(64);
  }

  reset(): void {
    this.len = 0;
    this.err = "";
    this.skip = 0;
    if (this.buf.length > 256) this.buf = new Uint8Array(64);
  }

  feed(chunk: Uint8Array, out: Packet[]): string | undefined {
    if (this.err) return this.err;
    if (this.skip > 0) {
      const n = Math.min(this.skip, chunk.length);
      this.skip -= n;
      if (n === chunk.length) return undefined;
      chunk = chunk.subarray(n);
    }
    if (this.len + chunk.length > this.buf.length) {
      let size = this.buf.length;
      while (size < this.len + chunk.length) size *= 2;
      const nb = new Uint8Array(Math.min(size, Math.max(this.max + 8, this.len + chunk.length)));
      nb.set(this.buf.subarray(0, this.len));
      this.buf = nb;
    }
    this.buf.set(chunk, this.len);
    this.len += chunk.length;
    let pos = 0;
    const b = this.buf;
    for (;;) {
      if (this.len - pos < 2) break;
      let rem = 0;
      let mul = 1;
      let i = pos + 1;
      let done = false;
      while (i < this.len && i - pos <= 4) {
        const d = b[i++];
        rem += (d & 127) * mul;
        mul *= 128;
        if (!(d & 128)) {
          done = true;
          break;
        }
      }
      if (!done) {
        if (i - pos > 4) return this.fail(E_LENGTH);
        break;
      }
      // A longer-than-needed length (a final 0 digit) is refused: one encoding per packet.
      if (i - pos > 2 && b[i - 1] === 0) return this.fail(E_LENGTH);
      if (i - pos + rem > this.max) {
        // a PUBLISH too large to hold: decode its head, skip its body
        if (b[pos] >> 4 !== 3) return this.fail(E_TOO_BIG);
        if (this.len - i < 2) break;
        const vh = 2 + ((b[i] << 8) | b[i + 1]) + (b[pos] & 6 ? 2 : 0);
        if (i - pos + vh + OVERSIZE_HEAD > this.max) return this.fail(E_TOO_BIG);
        const keep = Math.min(rem, vh + OVERSIZE_HEAD);
        if (this.len - i < keep) break;
        const h = decodeBody(b[pos], b, i, i + keep);
        if (typeof h === "string") return this.fail(h);
        (h as Publish).oversize = rem - vh;
        out.push(h);
        if (this.len - i >= rem) pos = i + rem;
        else {
          this.skip = rem - (this.len - i);
          pos = this.len;
        }
        continue;
      }
      if (this.len - i < rem) break;
      const p = decodeBody(b[pos], b, i, i + rem);
      if (typeof p === "string") return this.fail(p);
      out.push(p);
      pos = i + rem;
    }
    if (pos > 0) {
      const n = this.len - pos;
      for (let k = 0; k < n; k++) b[k] = b[pos + k];
      this.len = n;
    }
    return undefined;
  }

  private fail(code: string): string {
    this.err = code;
    this.len = 0;
    return code;
  }
}
