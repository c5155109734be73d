import { Handle, Input } from "../../hal";
import { EventBus } from "../events";
import { TamperReporter } from "../tamper/report";

/**
 * The key holder. A grant session runs from an unlock until the box is
 * locked again; inside it, taking the key is the point of the visit, outside
 * it the key leaving is tamper. Closing the lid while the key taken in this
 * session is still out is an alarm (the driver walked off with it).
 */
export class KeyWatch {
  private session = "";
  private takenInSession = false;
  private readonly sub: Handle;

  constructor(private readonly o: { key: Input; events: EventBus; reporter: TamperReporter }) {
    this.sub = o.key.onChange((present) => this.changed(present));
  }

  /** A grant (or remote) unlock started: source names who. */
  begin(source: string): void {
    this.session = source || "unknown";
    this.takenInSession = false;
  }

  /** The box is locked again: the session is over. */
  end(): void {
    this.session = "";
    this.takenInSession = false;
  }

  inSession(): boolean {
    return this.session !== "";
  }

  /** The lid closed: the last moment to notice the key did not come back. */
  lidClosed(): void {
    if (!this.session || !this.takenInSession || this.o.key.read()) return;
    this.o.reporter.raise("key_not_returned", "medium", { src: this.session });
  }

  close(): void {
    this.sub.cancel();
  }

  private changed(present: boolean): void {
    if (present) {
      this.o.events.emit("key", "returned", this.session ? { src: this.session } : undefined);
      return;
    }
    this.o.events.emit("key", "removed", this.session ? { src: this.session } : undefined);
    if (this.session) this.takenInSession = true;
    else this.o.reporter.raise("key_removed", "high");
  }
}
