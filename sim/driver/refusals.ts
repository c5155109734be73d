/**
 * Refusal codes as sentences a person can act on. The box and the owner's
 * channel answer with stable codes (firmware/grants/decide.ts,
 * firmware/ble/protocol.ts, firmware/latch/controller.ts,
 * firmware/uplink/command.ts); the driver, the owner tool and the simulator
 * print the code with what it means and what fixes it. What the code alone
 * cannot say (which boxes, which port) comes in through the context.
 */

export interface RefusalContext {
  /** The box that answered. */
  box?: string;
  /** The box the grant or command names. */
  grantBox?: string;
  /** Seconds until a retry can help. */
  retryS?: number;
  /** Extra words from the box (a decision's detail, a fault's cause). */
  detail?: string;
}

type Sentence = string | ((c: RefusalContext) => string);

const MINT = "mint a new one with `npm run issuer -- mint`";

const SENTENCES: { [code: string]: Sentence } = {
  // access decisions
  malformed: (c) => "the box cannot read this grant" + (c.detail ? " (" + c.detail + ")" : "") + ": present the issuer's file unchanged, or " + MINT,
  bad_signature: "the grant's signature does not verify with the issuer key it names: it was altered, or signed by a key with the same id that the box does not trust; " + MINT + " with the provisioned key",
  unknown_key: "the box does not trust the issuer key that signed this grant: sign with a key in its provisioning file, or provision the box with this key",
  wrong_box: (c) =>
    "the grant is for box " + (c.grantBox || "another box") + (c.box ? " but this is " + c.box : "") + ": " + MINT + " --box " + (c.box || "<this box's id>") + " (box ids are case-sensitive)",
  revoked: (c) => (c.detail === "key" ? "the issuer key that signed this grant was revoked: sign with another trusted key" : "the owner revoked this grant: ask for a new one"),
  clock_unknown: "the box does not know the time yet (it learns it from the cellular network after a cold boot): wait until it is online, or have the owner send `npm run owner -- time`",
  not_yet_valid: "the grant's window has not started yet (the box allows 2 minutes of clock difference): wait, or mint one with an earlier --from",
  expired: "the grant's window is over: " + MINT + " with a later --until",
  permission: "the grant does not allow this action (unlock or lock): mint one with --perm unlock,lock",
  used_up: "the grant has no uses left (a use is spent when the box opens): " + MINT,
  holder_mismatch: (c) =>
    c.detail === "no_proof"
      ? "the grant is bound to a holder key and no proof came with it: present it with --holder-key FILE"
      : "the holder proof is not from the key the grant is bound to: use the holder key the grant was minted for (--holder-key)",
  granted: "granted",
  // latch refusals
  low_battery: "the battery is too low to run the motor safely: replace or charge it (the box keeps its state)",
  busy: "the box is busy (a grant is being checked or the latch is moving): try again in a moment",
  already_open: "the box is already open",
  already_locked: "the box is already locked",
  lid_open: "the lid is open: close it, then lock",
  booting: "the box is still starting: try again in a second",
  fault: "the latch is in fault: clear the cause (a jam, a failed switch), then lock with a grant that allows lock to leave it",
  store_error: "the box could not record the drive in its flash, so it does not move: check its Storage",
  // BLE errors
  link_unencrypted: "the link is not encrypted and the box is not in development mode: pair (drop --no-pair)",
  rate_limited: (c) => "too many attempts: the box makes you wait" + (c.retryS ? " " + c.retryS + " s" : "") + " before the next one",
  msg_unknown: "the box does not know this request: update the driver client",
  msg_malformed: "the request was malformed: update the driver client",
  no_challenge: "a holder proof came without a challenge: update the driver client",
  store_failed: "the box could not record the attempt in flash and refuses rather than allow unrecorded attempts: check its Storage",
  too_many_errors: "too many refusals on this connection: the box dropped it; fix the grant, then connect again",
  radio_busy: "another phone is connected to the box (one at a time): wait until it disconnects",
  handler_error: "the box failed to decide (a firmware error): look at its log",
  // owner commands
  cmd_key: "the box does not trust the key that signed the command: sign with a key in its provisioning file (--key, --key-id)",
  cmd_signature: "the command's signature does not verify: sign with the issuer's secret key file (--key)",
  cmd_box: (c) => "the command names box " + (c.grantBox || "another box") + (c.box ? ", not " + c.box : "") + ": check --box (box ids are case-sensitive)",
  cmd_expired: "the command expired before the box saw it: send it again, with a longer --ttl if the box is often offline",
  cmd_expiry: "the command's lifetime is too long for the box: use --ttl of at most 86400 s",
  cmd_ttl: "the command's lifetime is too long for the box: use --ttl of at most 86400 s",
  cmd_replay: "the box already ran a command with this id: send a new command",
  cmd_clock_unknown: "the box does not know the time yet, so it cannot check the command's expiry: send `time` first, or wait until it is online",
  cmd_unsupported: "the box's firmware does not support this command: update it",
  cmd_kind: "the box does not know this kind of command: update the box's firmware or the owner tool",
  // links
  ECONNREFUSED: "nothing is listening there: is the simulator (`npm start`) running, and is this its port? Its banner prints the ports",
  ETIMEDOUT: "no answer in time: check the host and port, and that the box is powered",
  ECONNRESET: "the other side dropped the connection: try again",
};

/** The code followed by what it means and how to fix it, e.g. `used_up: the grant has no uses left ...`. */
export function explainRefusal(code: string, context: RefusalContext = {}): string {
  const s = SENTENCES[code];
  if (s === undefined) return code;
  const text = typeof s === "function" ? s(context) : s;
  return code === "granted" ? code : code + ": " + text;
}

/** True when the code has a sentence (tests prove every code the firmware can send has one). */
export function hasSentence(code: string): boolean {
  return SENTENCES[code] !== undefined;
}
