import { Flash } from "../../hal";
import { Crc32 } from "./crc32";
import { Journal } from "./journal";

/**
 * Moves the journals an earlier firmware kept in Storage into the pool, once.
 * Each journal's intact records are read from Storage and written into the
 * pool as one new generation (the pool's geometry, not Storage's), then a
 * marker file goes to Storage, and only then are the Storage files erased. A
 * power cut before the marker leaves Storage whole: the next boot discards
 * the pool's partial copies and moves everything again. After the marker,
 * leftovers in Storage are only erased. Storage gains one tiny file and
 * needs no compaction. A journal whose records do not fit the pool's
 * geometry is not moved, and still erased: moving it again at every boot
 * would put old records back over the ones written since. Returns how many
 * journals moved and the prefixes of those that could not be; not ok when
 * the marker could not be written (the journals then stay in Storage).
 */
export var MOVED_MARKER = "kbmoved";

export interface JournalGeometry {
  prefix: string;
  segmentBytes: number;
  maxSegments: number;
}

export function moveJournals(options: { from: Flash; to: Flash; crc32: Crc32; journals: JournalGeometry[] }): { ok: boolean; moved: number; lost: string[] } {
  var o = options;
  var done = o.from.read(MOVED_MARKER) !== undefined;
  var old: string[] = [];
  var moved = 0;
  var lost: string[] = [];
  var i = 0;
  // Storage is listed once, not once a journal: this runs at every boot, and almost always finds nothing
  var stored = o.from.list("");
  var named = function (prefix: string): string[] {
    return stored.filter(function (n) {
      return n.indexOf(prefix + "~") === 0;
    });
  };
  for (var k = 0; k < o.journals.length; k++) {
    var g = o.journals[k];
    var names = named(g.prefix);
    if (names.length === 0) continue;
    if (!done) {
      var partial = o.to.list(g.prefix + "~");
      for (i = 0; i < partial.length; i++) o.to.erase(partial[i]);
      var recs = new Journal({ flash: o.from, crc32: o.crc32, prefix: g.prefix, segmentBytes: 65535, maxSegments: 255 }).records();
      var dest = new Journal({ flash: o.to, crc32: o.crc32, prefix: g.prefix, segmentBytes: g.segmentBytes, maxSegments: g.maxSegments });
      if (recs.length > 0 && !dest.rewrite(recs)) lost.push(g.prefix);
      else moved++;
      // opening the journal erased its unfinished generations
      names = o.from.list(g.prefix + "~");
    }
    for (i = 0; i < names.length; i++) old.push(names[i]);
  }
  if (old.length === 0) return { ok: true, moved: 0, lost: lost };
  if (!done && !(o.from.create(MOVED_MARKER, 4) && o.from.writeAt(MOVED_MARKER, 0, new Uint8Array([1, 0, 0, 0])))) {
    // Without the marker the Storage copies stay the truth: the journals stay there this boot.
    for (k = 0; k < o.journals.length; k++) {
      var made = o.to.list(o.journals[k].prefix + "~");
      for (i = 0; i < made.length; i++) o.to.erase(made[i]);
    }
    return { ok: false, moved: 0, lost: [] };
  }
  for (i = 0; i < old.length; i++) o.from.erase(old[i]);
  return { ok: true, moved: moved, lost: lost };
}
