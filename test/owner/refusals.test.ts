import { explainRefusal, hasSentence } from "../../sim/driver/refusals";

describe("refusal codes as sentences", () => {
  it("every code the box sends to a driver, or the latch refuses with, has a sentence with what to do", () => {
    const decisions = ["malformed", "bad_signature", "unknown_key", "wrong_box", "revoked", "clock_unknown", "not_yet_valid", "expired", "permission", "used_up", "holder_mismatch"];
    const latch = ["low_battery", "busy", "already_open", "already_locked", "lid_open", "booting", "fault", "store_error"];
    const ble = ["link_unencrypted", "rate_limited", "msg_unknown", "msg_malformed", "no_challenge", "store_failed", "too_many_errors", "radio_busy", "handler_error"];
    for (const code of decisions.concat(latch, ble)) {
      expect(hasSentence(code)).toBe(true);
      expect(explainRefusal(code)).toMatch(new RegExp("^" + code + ": \\S.{20,}"));
    }
  });

  it("names both boxes for a grant minted for another, and the wait for a back-off", () => {
    expect(explainRefusal("wrong_box", { box: "KB-DEMO01", grantBox: "kb-demo01" })).toBe(
      "wrong_box: the grant is for box kb-demo01 but this is KB-DEMO01: mint a new one with `npm run issuer -- mint` --box KB-DEMO01 (box ids are case-sensitive)",
    );
    expect(explainRefusal("rate_limited", { retryS: 8 })).toMatch(/wait 8 s before the next one/);
    expect(explainRefusal("no_such_code")).toBe("no_such_code");
  });
});
