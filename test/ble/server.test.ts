import * as net from "net";
import { encodeFrames, MAX_FRAMED, Reassembler } from "../../firmware/ble/framing";
import { MSG_STATE, MSG_UNLOCK, parseInfo, parseResponse, requestMessage, Response } from "../../firmware/ble/protocol";
import { BleSocketServer } from "../../sim/ble/server";
import { record, RecordReader, REC_CONNECTED, REC_DROPPED, REC_HELLO, REC_INFO, REC_NOTIFY, REC_PAIR, REC_READ, REC_REFUSED, REC_WRITE } from "../../sim/ble/wire";
import { VirtualClock } from "../../sim/clock";
import { crc32 } from "../../sim/hw/system";
import { GOOD, rig, Rig } from "./helpers";

/** Lets socket I/O happen while the box's virtual clock moves on, until cond holds (bounded). */
export async function pumpUntil(clock: VirtualClock, cond: () => boolean, what: string, maxTurns = 5000): Promise<void> {
  for (let i = 0; i < maxTurns; i++) {
    if (cond()) return;
    clock.advance(2);
    await new Promise((r) => setImmediate(r));
  }
  throw new Error("timed out waiting for " + what);
}

/** A raw client of the wire format. */
class WireClient {
  records: Array<{ type: number; body: Buffer }> = [];
  responses: Response[] = [];
  closed = false;
  readonly socket: net.Socket;
  private readonly reader = new RecordReader();
  private tag = 0;
  private readonly rx: Reassembler;

  constructor(port: number, clock: VirtualClock) {
    this.rx = new Reassembler({ clock, crc32, maxBytes: MAX_FRAMED, timeoutMs: 5000, onTimeout: () => undefined });
    this.socket = net.connect({ host: "127.0.0.1", port });
    this.socket.setNoDelay(true);
    this.socket.on("data", (c: Buffer) => {
      const recs = this.reader.push(c);
      if (recs === "wire_garbled") throw new Error("server sent a garbled record");
      for (const r of recs) {
        this.records.push(r);
        if (r.type === REC_NOTIFY) {
          const m = this.rx.push(new Uint8Array(r.body));
          if (m instanceof Uint8Array) this.responses.push(parseResponse(m));
        }
      }
    });
    this.socket.on("close", () => (this.closed = true));
    this.socket.on("error", () => (this.closed = true));
  }

  send(type: number, body?: Uint8Array | string) {
    this.socket.write(record(type, body));
  }

  request(type: number, grant?: Uint8Array) {
    const frames = encodeFrames(requestMessage(type, grant), this.tag++, crc32);
    this.socket.write(Buffer.concat(frames.map((f) => record(REC_WRITE, f))));
  }

  has(type: number) {
    return this.records.some((r) => r.type === type);
  }

  body(type: number) {
    const r = this.records.find((x) => x.type === type);
    return r ? r.body : undefined;
  }
}

describe("BLE socket transport", () => {
  let r: Rig;
  let server: BleSocketServer;
  let port: number;
  const clients: WireClient[] = [];
  const lines: string[] = [];

  beforeEach(async () => {
    r = rig({ idleMs: 20000 });
    server = new BleSocketServer({ ble: r.ble, port: 0, log: (l) => lines.push(l) });
    port = (await server.listen()).port;
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.socket.destroy();
    await server.close();
    r.service.close();
  });

  function client() {
    const c = new WireClient(port, r.clock);
    clients.push(c);
    return c;
  }

  it("carries a paired client's requests and the box's answers", async () => {
    const c = client();
    c.send(REC_HELLO, Uint8Array.of(1));
    await pumpUntil(r.clock, () => c.has(REC_CONNECTED), "connected");
    expect(c.body(REC_CONNECTED)).toEqual(Buffer.from([1]));
    c.send(REC_READ);
    await pumpUntil(r.clock, () => c.has(REC_INFO), "info");
    expect(parseInfo(new Uint8Array(c.body(REC_INFO)!))).toEqual({ protocol: 1, state: "ready", boxId: "KB-TEST01", version: "" });
    c.request(MSG_UNLOCK, GOOD);
    await pumpUntil(r.clock, () => c.responses.some((m) => m.type === "progress" && m.state === "open"), "latch open");
    expect(c.responses[0]).toEqual({ type: "result", request: MSG_UNLOCK, reason: "granted" });
    expect(r.box.latch).toBe("open");
    expect(lines.join("\n")).toMatch(/connected \(encrypted: simulated LE Secure Connections pairing\)/);
  });

  it("one central at a time: a second client is refused with radio_busy, and gets in once the first leaves", async () => {
    const a = client();
    a.send(REC_HELLO, Uint8Array.of(1));
    await pumpUntil(r.clock, () => a.has(REC_CONNECTED), "a connected");
    const b = client();
    b.send(REC_HELLO, Uint8Array.of(1));
    await pumpUntil(r.clock, () => b.closed, "b refused");
    expect(b.body(REC_REFUSED)!.toString()).toBe("radio_busy");
    a.socket.end();
    await pumpUntil(r.clock, () => a.closed && !r.ble.isConnected(), "a gone");
    const c = client();
    c.send(REC_HELLO, Uint8Array.of(1));
    c.request(MSG_STATE);
    await pumpUntil(r.clock, () => c.responses.length > 0, "state");
    expect(c.responses[0].type).toBe("state");
  });

  it("an unpaired client is refused by the box until it pairs (simulated)", async () => {
    const c = client();
    c.send(REC_HELLO, Uint8Array.of(0));
    c.request(MSG_STATE);
    await pumpUntil(r.clock, () => c.responses.length > 0, "refusal");
    expect(c.responses[0]).toEqual({ type: "error", code: "link_unencrypted", retryMs: 0 });
    c.send(REC_PAIR);
    await pumpUntil(r.clock, () => c.records.filter((x) => x.type === REC_CONNECTED).length === 2, "paired");
    c.request(MSG_STATE);
    await pumpUntil(r.clock, () => c.responses.length > 1, "state");
    expect(c.responses[1].type).toBe("state");
  });

  it("the box dropping an idle link closes the socket with a reason", async () => {
    const c = client();
    c.send(REC_HELLO, Uint8Array.of(1));
    await pumpUntil(r.clock, () => c.has(REC_CONNECTED), "connected");
    r.clock.advance(21000);
    await pumpUntil(r.clock, () => c.closed, "dropped");
    expect(c.body(REC_DROPPED)!.toString()).toBe("box_disconnected");
    expect(r.ble.isConnected()).toBe(false);
  });

  it("a client breaking the wire format is dropped and frees the radio; so is one that vanishes mid-request", async () => {
    const c = client();
    c.send(REC_HELLO, Uint8Array.of(1));
    await pumpUntil(r.clock, () => c.has(REC_CONNECTED), "connected");
    c.socket.write(Buffer.from([1, 0x57])); // a write record with an empty frame
    await pumpUntil(r.clock, () => c.closed, "dropped");
    expect(c.body(REC_DROPPED)!.toString()).toBe("wire_garbled");
    await pumpUntil(r.clock, () => !r.ble.isConnected(), "radio free");

    const w = client();
    w.socket.write(Buffer.from([0])); // zero length byte before hello
    await pumpUntil(r.clock, () => w.closed, "garbled hello");

    const v = client();
    v.send(REC_HELLO, Uint8Array.of(1));
    await pumpUntil(r.clock, () => v.has(REC_CONNECTED), "connected");
    v.request(MSG_UNLOCK, GOOD);
    await pumpUntil(r.clock, () => r.box.calls.length === 1, "request at the box");
    v.socket.destroy(); // gone while the box verifies
    await pumpUntil(r.clock, () => !r.ble.isConnected() && r.box.latch === "open", "decision after vanishing");
    expect(server.connections()).toBe(0);
  });
});
