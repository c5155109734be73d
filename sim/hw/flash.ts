import { Flash } from "../../hal";

/** Thrown by the simulated flash when an injected power cut strikes mid-operation. */
export class PowerLoss extends Error {
  constructor() {
    super("simulated power loss");
    this.name = "PowerLoss";
  }
}

interface FileSlot {
  name: string;
  data: Uint8Array;
  erased: boolean;
  /** false while a create's header is only partly programmed: the file does not exist. */
  valid: boolean;
}

/** Espruino's Storage header: 4 bytes size, flags, 28-byte name, rounded up to words. */
const HEADER_BYTES = 32;

export interface SimFlashOptions {
  /** Bytes of Storage available to data (the RAK5010 has 80 KiB for code and data). */
  capacity?: number;
}

/**
 * Espruino Storage with NOR-flash semantics and power-cut injection. A byte
 * is programmed once after create (writing over a programmed byte is refused,
 * as Espruino refuses it); erased files
 * keep their space until compact(). cutAfter(n) lets exactly n more bytes be
 * programmed, then the operation in progress stops part-way and throws
 * PowerLoss, and every later call throws until powerOn(): the rest of the
 * firmware is dead until the harness reboots it on the same flash. A cut
 * during compact() loses the whole store, as Espruino's own maintainers
 * describe for compaction on a failing battery.
 */
export class SimFlash implements Flash {
  /** Bytes programmed since construction: the write points a power-cut test enumerates. */
  programmed = 0;
  private files: FileSlot[] = [];
  private budget = Infinity;
  private dead = false;
  private readonly capacity: number;

  constructor(options: SimFlashOptions = {}) {
    this.capacity = options.capacity === undefined ? 40 * 1024 : options.capacity;
  }

  create(name: string, size: number): boolean {
    this.alive();
    if (!validName(name) || size <= 0 || this.find(name)) return false;
    if (this.used() + footprint(size) > this.capacity) return false;
    const slot: FileSlot = { name, data: new Uint8Array(size).fill(0xff), erased: false, valid: false };
    this.files.push(slot);
    this.spend(HEADER_BYTES);
    slot.valid = true;
    return true;
  }

  writeAt(name: string, offset: number, data: Uint8Array): boolean {
    this.alive();
    const f = this.find(name);
    if (!f || offset < 0 || offset + data.length > f.data.length) return false;
    // Espruino refuses to program bytes that are not blank, and at offset 0 it
    // would replace a file that has any data: the binding refuses both.
    const span = offset === 0 ? f.data : f.data.subarray(offset, offset + data.length);
    if (!span.every((b) => b === 0xff)) return false;
    for (let i = 0; i < data.length; i++) {
      this.spend(1);
      f.data[offset + i] = data[i];
    }
    return true;
  }

  read(name: string): Uint8Array | undefined {
    this.alive();
    const f = this.find(name);
    return f ? f.data.slice() : undefined;
  }

  erase(name: string): void {
    this.alive();
    const f = this.find(name);
    if (!f) return;
    this.spend(1);
    f.erased = true;
  }

  list(prefix: string): string[] {
    this.alive();
    return this.files.filter((f) => f.valid && !f.erased && f.name.indexOf(prefix) === 0).map((f) => f.name);
  }

  free(): number {
    this.alive();
    return Math.max(0, this.capacity - this.used());
  }

  compact(): void {
    this.alive();
    const live = this.files.filter((f) => f.valid && !f.erased);
    const cost = live.reduce((n, f) => n + footprint(f.data.length), 0);
    if (cost > this.budget) {
      this.files = [];
      this.budget = 0;
      this.dead = true;
      throw new PowerLoss();
    }
    this.spend(cost);
    this.files = live;
  }

  /** Control: cut the power after n more programmed bytes (0 = at the next write). */
  cutAfter(n: number): void {
    this.budget = n;
  }

  /** Control: power is back; the store holds whatever had been programmed. */
  powerOn(): void {
    this.dead = false;
    this.budget = Infinity;
  }

  /** Control: true once a cut struck and until powerOn(). */
  isDead(): boolean {
    return this.dead;
  }

  /** Control: every live file's bytes, for comparing stores. */
  snapshot(): Record<string, Uint8Array> {
    const out: Record<string, Uint8Array> = {};
    for (const f of this.files) if (f.valid && !f.erased) out[f.name] = f.data.slice();
    return out;
  }

  private used(): number {
    return this.files.reduce((n, f) => n + footprint(f.data.length), 0);
  }

  private find(name: string): FileSlot | undefined {
    for (const f of this.files) if (f.name === name && f.valid && !f.erased) return f;
    return undefined;
  }

  private spend(bytes: number): void {
    if (this.budget < bytes) {
      this.programmed += this.budget;
      this.budget = 0;
      this.dead = true;
      throw new PowerLoss();
    }
    this.budget -= bytes;
    this.programmed += bytes;
  }

  private alive(): void {
    if (this.dead) throw new PowerLoss();
  }
}

function footprint(size: number): number {
  return HEADER_BYTES + ((size + 3) & ~3);
}

/** Espruino Storage names are at most 28 characters. */
function validName(name: string): boolean {
  return name.length > 0 && name.length <= 28;
}
