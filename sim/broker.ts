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
