import { explainRefusal } from "../driver/refusals";
import { WireEvent } from "./follow";

export interface Outcome {
  /** true: the box opened; false: it did not (text says why and what to do). */
  ok: boolean;
  text: string;
}

/**
 * What a remote unlock came to, read from the box's events: the latch
 * names the command in src ("mqtt:<command id>"). Returns undefined for
 * events that do not decide it (other sources, the latch starting to move).
 * A command's "done" reply only says the latch accepted the command; the
 * outcome is the latch reaching open, faulting, or going back.
 */
export function unlockOutcome(e: WireEvent, commandId: string): Outcome | undefined {
  if (!e.d || e.d.src !== "mqtt:" + commandId) return undefined;
  if (e.type === "latch_refused") return { ok: false, text: "refused: " + explainRefusal(e.reason) };
  if (e.type !== "latch") return undefined;
  const why = String(e.d.why || "");
  if (e.reason === "open" && why === "unlocked") return { ok: true, text: "opened: the latch is open" };
  if (e.reason === "fault") {
    const out = e.d.wayOut ? "; way out: clear the cause, then " + e.d.wayOut + " (a grant that allows lock)" : "";
    return { ok: false, text: "failed: the latch faulted (" + why + ")" + out };
  }
  if (e.reason === "unlocking") return undefined;
  return { ok: false, text: "failed: the latch went back to " + e.reason + " (" + explainRefusal(why) + ")" };
}
