/**
 * The simulator's web page: an HTTP server on 127.0.0.1 that serves the page
 * (plain HTML, SVG and script from this folder, nothing fetched from
 * elsewhere) and one WebSocket at /live that carries, as JSON text messages:
 *
 *   server -> page
 *     {"type":"hello","commands":[{name,args,help}],"snapshot":{..},"events":[{..,"line":".."}]}
 *     {"type":"snapshot","snapshot":{..}}     whenever the drawing would change (Desk.snapshot())
 *     {"type":"events","events":[{..,"line":".."}]}   new box events, in order
 *     {"type":"answer","id":n,"ok":bool,"text":".."}   the answer to a command
 *   page -> server
 *     {"type":"command","id":n,"line":"lid open"}     any command of the shared set (help lists them)
 *
 * Only pages served by this server may open the socket (the Origin header is
 * checked), so another site open in the same browser cannot drive the box.
 */
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import { WebSocketServer, WebSocket } from "ws";
import { Desk, formatEvent } from "../desk";
import { BoxEvent } from "../../firmware/events";

export interface WebServerOptions {
  desk: Desk;
  /** TCP port on 127.0.0.1; 0 picks a free one. */
  port: number;
  /** How often changes are pushed, in host ms (default 100). */
  pushMs?: number;
}

const FILES: { [url: string]: { file: string; type: string } } = {
  "/": { file: "page.html", type: "text/html; charset=utf-8" },
  "/page.js": { file: "page.js", type: "text/javascript; charset=utf-8" },
  "/page.css": { file: "page.css", type: "text/css; charset=utf-8" },
};

function wireEvent(e: BoxEvent): object {
  return { type: e.type, reason: e.reason, t: e.t, m: e.m, d: e.d || {}, line: formatEvent(e) };
}

export class WebServer {
  private readonly http: http.Server;
  private readonly wss: WebSocketServer;
  private timer: NodeJS.Timeout | undefined;
  private sent = 0;
  private lastSnapshot = "";
  private port = 0;
  private readonly o: WebServerOptions;

  constructor(options: WebServerOptions) {
    if (!options || !options.desk || !(options.port >= 0)) throw new Error("WebServer needs desk and port");
    this.o = options;
    this.http = http.createServer((req, res) => this.serve(req, res));
    this.wss = new WebSocketServer({
      server: this.http,
      path: "/live",
      verifyClient: (info: { origin: string }) => info.origin === "http://127.0.0.1:" + this.port || info.origin === "http://localhost:" + this.port,
    });
    this.wss.on("connection", (ws) => this.welcome(ws));
  }

  /** Starts listening; resolves to the page's address. */
  listen(): Promise<{ host: string; port: number; url: string }> {
    return new Promise((resolve, reject) => {
      this.http.once("error", reject);
      this.http.listen(this.o.port, "127.0.0.1", () => {
        this.port = (this.http.address() as { port: number }).port;
        this.sent = this.o.desk.box.events.length;
        this.timer = setInterval(() => this.push(), this.o.pushMs === undefined ? 100 : this.o.pushMs);
        resolve({ host: "127.0.0.1", port: this.port, url: "http://127.0.0.1:" + this.port + "/" });
      });
    });
  }

  close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    for (const c of this.wss.clients) c.terminate();
    return new Promise((resolve) => this.wss.close(() => this.http.close(() => resolve())));
  }

  private serve(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = (req.url || "/").split("?")[0];
    const f = FILES[url];
    if (url === "/favicon.ico") {
      res.writeHead(204);
      res.end();
      return;
    }
    if (req.method !== "GET" || !f) {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found\n");
      return;
    }
    fs.readFile(path.join(__dirname, f.file), (err, data) => {
      if (err) {
        res.writeHead(500, { "content-type": "text/plain" });
        res.end("cannot read " + f.file + "\n");
        return;
      }
      res.writeHead(200, { "content-type": f.type, "cache-control": "no-store" });
      res.end(data);
    });
  }

  private welcome(ws: WebSocket): void {
    const desk = this.o.desk;
    const commands = desk.commands().filter((c) => !c.promptOnly);
    ws.send(JSON.stringify({ type: "hello", commands, snapshot: desk.snapshot(), events: desk.box.events.slice(0, this.sent).map(wireEvent) }));
    ws.on("message", (data) => {
      let m: { type?: unknown; id?: unknown; line?: unknown };
      try {
        m = JSON.parse(String(data));
      } catch (e) {
        return;
      }
      if (!m || m.type !== "command" || typeof m.line !== "string") return;
      const id = m.id;
      const name = m.line.trim().split(/\s+/)[0];
      const reply = (ok: boolean, text: string) => {
        if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "answer", id, ok, text }));
      };
      if (desk.commands().some((c) => c.promptOnly && c.name === name)) return reply(false, "error: " + name + " works only at the prompt");
      desk.execute(m.line).then(
        (a) => {
          this.push();
          reply(a.ok, a.text);
        },
        (e) => reply(false, "error: " + String(e)),
      );
    });
  }

  /** Sends new events and a changed snapshot to every page. */
  private push(): void {
    const events = this.o.desk.box.events;
    if (events.length > this.sent) {
      const msg = JSON.stringify({ type: "events", events: events.slice(this.sent).map(wireEvent) });
      this.sent = events.length;
      this.broadcast(msg);
    }
    const snap = this.o.desk.snapshot();
    // the clock moves every push; the drawing only needs it once a second
    const key = JSON.stringify(Object.assign({}, snap, { time: { wall: Math.floor(snap.time.wall), rate: snap.time.rate } }));
    if (key !== this.lastSnapshot) {
      this.lastSnapshot = key;
      this.broadcast(JSON.stringify({ type: "snapshot", snapshot: snap }));
    }
  }

  private broadcast(msg: string): void {
    for (const c of this.wss.clients) if (c.readyState === WebSocket.OPEN) c.send(msg);
  }
}
