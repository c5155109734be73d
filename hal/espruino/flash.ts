import { Flash, FlashUsage } from "../index";

/**
 * Storage with the create/program-once discipline of hal/flash.ts. Storage
 * throws when asked to program bytes that are not blank; here that becomes
 * false. At offset 0 Storage would erase and re-create a file holding any
 * data, so writeAt refuses offset 0 unless the whole file is blank.
 * The free-space rule is Storage's own: getFree() is only the unused tail,
 * and a create that does not fit there compacts by itself when the trash
 * would make room, so create never refuses on getFree(). Whether such a
 * compaction may happen now is the firmware's decision
 * (firmware/store/upkeep.ts), taken before it calls create.
 */
export class EspruinoFlash implements Flash {
  private readonly s: EspruinoStorage = require("Storage");

  create(name: string, size: number): boolean {
    if (this.s.read(name) !== undefined) return false;
    return this.attempt(name, new Uint8Array([0xff]), 0, size);
  }

  writeAt(name: string, offset: number, data: Uint8Array): boolean {
    const file = this.read(name);
    if (!file || offset < 0 || offset + data.length > file.length) return false;
    if (offset === 0) {
      for (let i = 0; i < file.length; i++) if (file[i] !== 0xff) return false;
      return this.attempt(name, data, 0, file.length);
    }
    return this.attempt(name, data, offset, undefined);
  }

  read(name: string): Uint8Array | undefined {
    const b = this.s.readArrayBuffer(name);
    return b === undefined ? undefined : new Uint8Array(b);
  }

  erase(name: string): void {
    this.s.erase(name);
  }

  list(prefix: string): string[] {
    return this.s.list().filter(function (n) {
      return n.indexOf(prefix) === 0;
    });
  }

  free(): number {
    return this.s.getFree();
  }

  usage(): FlashUsage {
    const st = this.s.getStats();
    return { free: st.freeBytes, trash: st.trashBytes, files: st.fileBytes };
  }

  compact(): void {
    this.s.compact();
  }

  private attempt(name: string, data: Uint8Array, offset: number, size: number | undefined): boolean {
    try {
      return this.s.write(name, data, offset, size);
    } catch (e) {
      return false;
    }
  }
}
