import { Handle } from "../../hal";

/** A list of callbacks with cancellable registrations. */
export class Listeners<T> {
  private list: Array<(value: T) => void> = [];

  add(cb: (value: T) => void): Handle {
    this.list.push(cb);
    return {
      cancel: () => {
        this.list = this.list.filter((c) => c !== cb);
      },
    };
  }

  emit(value: T): void {
    for (const cb of this.list.slice()) cb(value);
  }

  /** Drops every registration (a connection that ended calls back no more). */
  clear(): void {
    this.list = [];
  }

  get size(): number {
    return this.list.length;
  }
}
