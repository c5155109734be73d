import { CodeArea } from "../../hal/codearea";
import { Flash } from "../../hal/flash";
import { findBlob } from "./blobs";

/**
 * Storage as it is, except that a file the code area's blob region holds
 * (the verifier's tables: edB, edK<id>, installed there by npm run flash)
 * is read from there once its SHA-256 checks out. Storage's compaction
 * moves files and garbles every view into them; the code area is never
 * compacted, so tables mapped from it stay intact for the firmware's life.
 * Without a code area or SHA-256, or with the blob missing or corrupt, the
 * Storage file is read as before.
 */
export function blobsFirst(o: { flash: Flash; area: CodeArea | undefined; sha256: ((data: Uint8Array) => Uint8Array) | undefined }): Flash {
  const flash = o.flash, area = o.area, sha256 = o.sha256;
  return {
    create: function (name, size) {
      return flash.create(name, size);
    },
    writeAt: function (name, offset, data) {
      return flash.writeAt(name, offset, data);
    },
    read: function (name) {
      if (area && sha256) {
        const b = findBlob({ area: area, name: name, sha256: sha256 });
        if (typeof b !== "string") return b.bytes;
      }
      return flash.read(name);
    },
    erase: function (name) {
      flash.erase(name);
    },
    list: function (prefix) {
      return flash.list(prefix);
    },
    free: function () {
      return flash.free();
    },
    usage: function () {
      return flash.usage();
    },
    compact: function () {
      flash.compact();
    },
  };
}
