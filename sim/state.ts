/**
 * The desktop simulator's memory between runs: a state folder holding the
 * box's Storage and a little about the world around it.
 *
 *   DIR/box.json     {"format":"keybox-sim-state/1","boxId":..,"seed":n,"runs":n,
 *                     "worldS":unix s,"hostS":unix s}: the box it is, its random
 *                     seed, how often it ran, and the world's clock against the
 *                     host's when last saved (time the simulator was off passes
 *                     for the box too; time advanced by hand stays advanced)
 *   DIR/storage.bin  the Storage area's bytes exactly (SimFlash.image())
 *   DIR/codearea.bin the free flash's bytes exactly (SimCodeArea.image()): the
 *                     journal pool, where the box keeps its records
 *
 * Both are written to a temporary name and renamed, so a crash mid-save
 * leaves the previous state whole.
 */
import * as fs from "fs";
import * as path from "path";
import { randomBytes } from "crypto";

export const STATE_FORMAT = "keybox-sim-state/1";

export interface SavedState {
  boxId: string;
  seed: number;
  runs: number;
  worldS: number;
  hostS: number;
}

export interface OpenedState {
  dir: string;
  /** True for a box that starts with an empty Storage. */
  fresh: boolean;
  meta: SavedState;
  /** The Storage bytes of a restored box. */
  storage?: Uint8Array;
  /** The code area's bytes of a restored box (a state saved before the pool existed has none). */
  codeArea?: Uint8Array;
  /** The world's time to start at (Unix seconds). */
  nowS: number;
  /** The random seed for this run: a restored box draws new numbers each run. */
  runSeed: number;
}

/**
 * Opens (or starts) the state in dir for boxId. fresh discards what is there.
 * Throws an Error with a sentence for a folder that holds another box or
 * something unreadable.
 */
export function openState(options: { dir: string; boxId: string; fresh?: boolean; seed?: number; nowS?: number }): OpenedState {
  const dir = options.dir;
  const hostS = options.nowS === undefined ? Date.now() / 1000 : options.nowS;
  const metaFile = path.join(dir, "box.json");
  const storageFile = path.join(dir, "storage.bin");
  const codeAreaFile = path.join(dir, "codearea.bin");
  fs.mkdirSync(dir, { recursive: true });
  if (options.fresh) {
    fs.rmSync(metaFile, { force: true });
    fs.rmSync(storageFile, { force: true });
    fs.rmSync(codeAreaFile, { force: true });
  }
  if (fs.existsSync(metaFile)) {
    let meta: SavedState & { format?: string };
    try {
      meta = JSON.parse(fs.readFileSync(metaFile, "utf8"));
    } catch (e) {
      throw new Error(metaFile + " is not readable JSON (" + (e as Error).message + "); start a new box with --fresh");
    }
    if (meta.format !== STATE_FORMAT || typeof meta.boxId !== "string" || typeof meta.seed !== "number") throw new Error(metaFile + " is not a simulator state file; start a new box with --fresh");
    if (meta.boxId !== options.boxId) throw new Error("the state in " + dir + " is box " + meta.boxId + ", not " + options.boxId + ": give another --state, or --fresh to replace it");
    const storage = fs.existsSync(storageFile) ? new Uint8Array(fs.readFileSync(storageFile)) : undefined;
    const codeArea = storage && fs.existsSync(codeAreaFile) ? new Uint8Array(fs.readFileSync(codeAreaFile)) : undefined;
    const runs = (meta.runs || 0) + 1;
    const nowS = meta.worldS + Math.max(0, hostS - meta.hostS);
    const m: SavedState = { boxId: meta.boxId, seed: meta.seed, runs, worldS: nowS, hostS };
    return { dir, fresh: !storage, meta: m, storage, codeArea, nowS, runSeed: (meta.seed + runs * 0x9e3779b1) >>> 0 || 1 };
  }
  const seed = options.seed === undefined ? randomBytes(4).readUInt32BE(0) || 1 : options.seed >>> 0;
  const meta: SavedState = { boxId: options.boxId, seed, runs: 1, worldS: hostS, hostS };
  return { dir, fresh: true, meta, nowS: hostS, runSeed: seed };
}

function writeAtomic(file: string, data: string | Uint8Array): void {
  const tmp = file + ".tmp";
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

/** Saves the Storage bytes, the code area's, and the world's clock (worldS: the world's Unix time now). */
export function saveState(state: OpenedState, storage: Uint8Array, worldS: number, codeArea?: Uint8Array): void {
  state.meta.worldS = worldS;
  state.meta.hostS = Date.now() / 1000;
  if (codeArea) writeAtomic(path.join(state.dir, "codearea.bin"), codeArea);
  writeAtomic(path.join(state.dir, "storage.bin"), storage);
  writeAtomic(path.join(state.dir, "box.json"), JSON.stringify(Object.assign({ format: STATE_FORMAT }, state.meta), null, 2) + "\n");
}
