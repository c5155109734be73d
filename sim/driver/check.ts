import { decodeGrant } from "../../firmware/grants/codec";
import { CLOCK_TOLERANCE_S } from "../../firmware/grants/decide";

/**
 * What the driver's tool checks on the phone before it sends a grant: a
 * file that is no grant, a grant for another box or outside its window would
 * only be refused by the box and spend the driver's attempts on this link,
 * so the tool says what is wrong instead. Only what needs no key is checked
 * (format, box id, window, with the box's own clock tolerance); the box
 * decides the rest.
 */
export function grantProblem(bytes: Uint8Array, o: { now: number; boxId?: string }): string | undefined {
  const d = decodeGrant(bytes);
  if (!d.ok) return "this file is not a Keybox grant (" + d.reason + "): ask the sender for the grant file itself";
  const g = d.grant;
  if (o.boxId !== undefined && o.boxId !== "" && g.boxId !== o.boxId) return "this grant is for box " + g.boxId + ", not " + o.boxId;
  if (o.now < g.notBefore - CLOCK_TOLERANCE_S) return "this grant is valid from " + iso(g.notBefore) + " (in " + span(g.notBefore - o.now) + ")";
  if (o.now > g.notAfter + CLOCK_TOLERANCE_S) return "this grant expired at " + iso(g.notAfter) + " (" + span(o.now - g.notAfter) + " ago)";
  return undefined;
}

function iso(t: number): string {
  return new Date(t * 1000).toISOString().replace(".000Z", "Z");
}

function span(s: number): string {
  if (s < 120) return Math.round(s) + " s";
  if (s < 7200) return Math.round(s / 60) + " min";
  if (s < 172800) return Math.round(s / 3600) + " h";
  return Math.round(s / 86400) + " days";
}
