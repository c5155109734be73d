import { Config } from "./config";
import { utf8Decode } from "./mqtt/codec";
import { AccessControl } from "./grants/access";
import { Gatekeeper } from "./gatekeeper";
import { LatchController } from "./latch/controller";
import { Settings } from "./settings";
import { Command, revokeTarget } from "./uplink/command";

/**
 * What a signed owner command does on the box. The uplink has already
 * checked signature, key, box, expiry and replay and made the command id
 * durable; each effect here reports done() only once it is persisted (or
 * the latch has been told to move), or done(code) with the refusal.
 */
export class RemoteCommands {
  constructor(
    private readonly o: {
      access: AccessControl;
      latch: LatchController;
      gate: Gatekeeper;
      settings: Settings;
      config: Config;
      /** Pre-verifies a pushed grant; undefined when it was remembered. */
      pushGrant: (grant: Uint8Array) => string | undefined;
    }
  ) {}

  execute(cmd: Command, done: (err?: string) => void): void {
    const o = this.o;
    switch (cmd.kind) {
      case "revoke": {
        const t = revokeTarget(cmd);
        const r = "keyId" in t ? o.access.revokeKey(t.keyId) : o.access.revokeGrant(t.grantId, t.until);
        return done(r.ok ? undefined : r.reason);
      }
      case "unlock": {
        const before = o.gate.precheck("unlock");
        if (before) return done(before);
        return done(o.latch.unlock("mqtt:" + cmd.id));
      }
      case "config": {
        const text = utf8Decode(cmd.arg, 0, cmd.arg.length);
        return done(text === undefined ? "config_json" : o.settings.save(o.config, text));
      }
      case "grant":
        return done(o.pushGrant(cmd.arg));
      default:
        return done("cmd_unsupported");
    }
  }
}
