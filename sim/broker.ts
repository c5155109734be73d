import * as net from "net";

export interface EmbeddedBroker {
  host: string;
  port: number;
  close(): Promise<void>;
}

/**
 * The desktop simulator's default MQTT broker: aedes on a TCP port, with its
 * in-memory persistence (sessions and queued QoS 1 messages live as long as
 * the process). Port 0 picks a free port; the bound one is returned.
 *
 * It also keeps the last HISTORY events each box published on
 * kb/<box>/events, so a follower that starts late can see the boot: a
 * client publishes {"from":n,"to":"<topic>"} (JSON) on kb/<box>/replay and
 * the broker answers on <topic> with one message {"events":[payload, ...]}
 * holding the kept events of the newest epoch whose seq is at least n, in
 * order (see `owner follow --from`). A broker without this (mosquitto) never
 * answers, and the follower says so.
 */
export async function startBroker(options: { port?: number; host?: string; log?: (line: string) => void } = {}): Promise<EmbeddedBroker> {
  const host = options.host === undefined ? "127.0.0.1" : options.host;
  // aedes is an ES module; a dynamic import keeps this file loadable from CommonJS (tsx)
  const mod: any = await import("aedes");
  const Aedes = mod.Aedes || (mod.default && mod.default.Aedes) || mod.default;
  const broker = typeof Aedes.createBroker === "function" ? await Aedes.createBroker() : new Aedes();
  const log = options.log;
  if (log) {
    broker.on("client", (c: any) => log("broker: client " + c.id + " connected"));
    broker.on("clientDisconnect", (c: any) => log("broker: client " + c.id + " disconnected"));
  }
  keepHistory(broker);
  const server = net.createServer(broker.handle);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port === undefined ? 1883 : options.port, host, () => resolve());
  });
  const addr = server.address() as net.AddressInfo;
  return {
    host,
    port: addr.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => broker.close(() => resolve()));
        // drop live client sockets so server.close can finish
        broker.close();
      }),
  };
}

/** Events kept per box for replay. */
export const HISTORY = 1000;
const EVENTS = /^kb\/([^/]+)\/events$/;
const REPLAY = /^kb\/([^/]+)\/replay$/;

function keepHistory(broker: any): void {
  const kept: { [box: string]: Array<{ ep: number; seq: number; text: string }> } = {};
  broker.on("publish", (packet: { topic: string; payload: Buffer | string }, client: unknown) => {
    if (!client) return;
    const ev = EVENTS.exec(packet.topic);
    if (ev) {
      let e: { ep?: unknown; seq?: unknown };
      try {
        e = JSON.parse(String(packet.payload));
      } catch (err) {
        return;
      }
      if (typeof e.ep !== "number" || typeof e.seq !== "number") return;
      const list = kept[ev[1]] || (kept[ev[1]] = []);
      if (list.some((x) => x.ep === e.ep && x.seq === e.seq)) return;
      list.push({ ep: e.ep, seq: e.seq, text: String(packet.payload) });
      if (list.length > HISTORY) list.shift();
      return;
    }
    const rp = REPLAY.exec(packet.topic);
    if (!rp) return;
    let req: { from?: unknown; to?: unknown };
    try {
      req = JSON.parse(String(packet.payload));
    } catch (err) {
      return;
    }
    if (typeof req.to !== "string" || req.to.indexOf("#") >= 0 || req.to.indexOf("+") >= 0) return;
    const from = typeof req.from === "number" ? req.from : 0;
    const list = kept[rp[1]] || [];
    const ep = list.length ? list[list.length - 1].ep : undefined;
    const events = list.filter((x) => x.ep === ep && x.seq >= from).sort((a, b) => a.seq - b.seq).map((x) => x.text);
    broker.publish({ cmd: "publish", topic: req.to, payload: Buffer.from(JSON.stringify({ events })), qos: 1, retain: false, dup: false }, () => undefined);
  });
}

if (require.main === module) {
  const port = process.argv[2] ? Number(process.argv[2]) : 1883;
  startBroker({ port, log: (l) => console.log(l) }).then(
    (b) => console.log("aedes MQTT broker on " + b.host + ":" + b.port),
    (e) => {
      console.error("broker: " + (e && e.message ? e.message : e));
      process.exit(1);
    },
  );
}
