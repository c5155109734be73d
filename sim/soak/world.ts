import { SimBox, SimBoxOptions } from "../box";
import { DeadBoot } from "../boot";
import { SimBroker } from "./broker";
import { topicsFor, Topics } from "../../firmware/uplink/topics";
import { MemNetwork } from "./net";
import { WireEvent } from "../owner/follow";

/** The broker's port inside the in-process network (any number: nothing listens on the host). */
export const BROKER_PORT = 1883;

/** One event as the owner received it on kb/<box>/events. */
export type OwnerEvent = WireEvent;

/**
 * The owner's end of the broker: subscribed for as long as the world lives
 * (inside aedes, so it never misses what the broker accepted), keeping every
 * event by (epoch, seq) and noticing when a redelivery differs from the
 * first copy, and every command reply by id.
 */
export class Owner {
  /** First copy of each event, by epoch then seq. */
  readonly events = new Map<number, Map<number, OwnerEvent>>();
  /** (epoch, seq) whose redelivered payload differed from the first. */
  readonly altered: string[] = [];
  readonly replies = new Map<string, { ok: boolean; reason: string }>();
  deliveries = 0;
  duplicates = 0;
  private readonly raw = new Map<string, string>();

  feedEvent(payload: Buffer): void {
    const text = payload.toString("utf8");
    let e: OwnerEvent;
    try {
      e = JSON.parse(text);
    } catch (err) {
      this.altered.push("unparsable: " + text.slice(0, 60));
      return;
    }
    this.deliveries++;
    const key = e.ep + ":" + e.seq;
    const before = this.raw.get(key);
    if (before !== undefined) {
      this.duplicates++;
      if (before !== text) this.altered.push(key + " (first " + before.slice(0, 160) + ", then " + text.slice(0, 160) + ")");
      return;
    }
    this.raw.set(key, text);
    let m = this.events.get(e.ep);
    if (!m) this.events.set(e.ep, (m = new Map()));
    m.set(e.seq, e);
  }

  feedReply(payload: Buffer): void {
    try {
      const r = JSON.parse(payload.toString("utf8"));
      if (r && typeof r.id === "string") this.replies.set(r.id, { ok: !!r.ok, reason: String(r.reason) });
    } catch (e) {
      /* a reply the owner cannot read is no reply */
    }
  }
}

export interface WorldOptions extends Omit<SimBoxOptions, "broker" | "network"> {
  boxId: string;
  /** One-way network latency between the modem and the broker (default 40 ms). */
  latencyMs?: number;
}

/**
 * A box, the network between its modem and the owner's broker, the broker
 * and the owner, all on one virtual clock (SimBroker over MemNetwork rather
 * than a real broker over TCP, so that a run is reproducible from its seed
 * and a year of box life costs seconds). run() steps the clock from one due
 * timer to the next.
 */
export class World {
  readonly box: SimBox;
  readonly net: MemNetwork;
  readonly broker: SimBroker;
  readonly owner = new Owner();
  readonly topics: Topics;
  /** Firmware errors that escaped to the event loop, and dead firmware caught acting. */
  readonly faults: string[] = [];

  constructor(options: WorldOptions) {
    this.topics = topicsFor(options.boxId);
    let net: MemNetwork | undefined;
    this.box = new SimBox(Object.assign({}, options, { broker: { host: "127.0.0.1", port: BROKER_PORT }, network: () => net!.socket() }));
    const clock = this.box.clock;
    net = new MemNetwork({ clock, latencyMs: options.latencyMs });
    this.net = net;
    this.broker = new SimBroker(clock);
    net.listen(BROKER_PORT, (conn) => this.broker.handle(conn));
    this.broker.subscribe(this.topics.events, (p) => this.owner.feedEvent(p));
    this.broker.subscribe(this.topics.reply, (p) => this.owner.feedReply(p));
  }

  /** The owner publishes a command (QoS 1): the broker keeps it for the box's session until delivered. */
  publish(topic: string, payload: Uint8Array): void {
    this.broker.publish(topic, payload);
  }

  /** Called at once when an injected flash power cut struck, with the box dark (to plan its power's return). */
  onPowerLoss: (() => void) | undefined;

  /** Runs ms of virtual time; an error escaping the firmware is recorded, as the board prints it and goes on. */
  run(ms: number): void {
    const clock = this.box.clock;
    const end = clock.monotonic() + ms;
    for (;;) {
      const cuts = this.box.powerLosses.length;
      try {
        this.box.run(end - clock.monotonic());
        if (this.box.powerLosses.length !== cuts && this.onPowerLoss) this.onPowerLoss();
        if (clock.monotonic() >= end) return;
      } catch (e) {
        this.faults.push(e instanceof DeadBoot ? e.message : "uncaught: " + ((e as Error).stack || String(e)).split("\n").slice(0, 3).join(" | "));
      }
    }
  }

  /** Runs until cond holds or ms of virtual time passed; true when it held. */
  until(cond: () => boolean, ms: number, stepMs = 1000): boolean {
    const end = this.box.clock.monotonic() + ms;
    while (!cond()) {
      const left = end - this.box.clock.monotonic();
      if (left <= 0) return false;
      this.run(Math.min(stepMs, left));
    }
    return true;
  }

  close(): void {
    this.broker.restart();
    this.box.close();
  }
}
