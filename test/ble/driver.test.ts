import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import nacl from "tweetnacl";
import { encodeGrant, holderMessage } from "../../firmware/grants/codec";
import { BleSocketServer } from "../../sim/ble/server";
import { decodeGrant, decodeKey, EXIT_LINK, EXIT_NO_BLE, EXIT_OK, EXIT_REFUSED, EXIT_USAGE, run } from "../../sim/driver/main";
import { BAD, GOOD, rig, Rig } from "./helpers";

/** Runs the driver against the box, moving the box's virtual clock while the client waits on real sockets. */
async function drive(r: Rig, argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  let done = false;
  // the stand-in grants are opaque bytes, not grants: only --check runs the tool's own grant check
  argv = argv.indexOf("--check") >= 0 ? argv.filter((a) => a !== "--check") : argv.indexOf("--grant") >= 0 ? argv.concat(["--no-check"]) : argv;
  const p = run(argv, { out: (l) => out.push(l), err: (l) => err.push(l) }).then((code) => {
    done = true;
    return code;
  });
  for (let i = 0; i < 20000 && !done; i++) {
    r.clock.advance(2);
    await new Promise((res) => setImmediate(res));
  }
  if (!done) throw new Error("driver did not finish: " + out.concat(err).join(" | "));
  return { code: await p, out, err };
}

describe("keybox-driver against the simulator's socket", () => {
  let r: Rig;
  let server: BleSocketServer;
  let port: string;
  let dir: string;

  beforeEach(async () => {
    r = rig();
    server = new BleSocketServer({ ble: r.ble, port: 0 });
    port = String((await server.listen()).port);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "keybox-driver-"));
  });

  afterEach(async () => {
    await server.close();
    r.service.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function file(name: string, data: Buffer | string): string {
    const f = path.join(dir, name);
    fs.writeFileSync(f, data);
    return f;
  }

  it("opens the box with a base64 grant file and shows each step", async () => {
    const g = file("good.b64", Buffer.from(GOOD).toString("base64") + "\n");
    const res = await drive(r, ["unlock", "--grant", g, "--port", port]);
    expect(res.err).toEqual([]);
    expect(res.code).toBe(EXIT_OK);
    const text = res.out.join("\n");
    for (const step of [
      /connected: simulator at 127\.0\.0\.1:\d+/,
      /box: KB-TEST01, state ready, protocol 1/,
      /encrypted: yes/,
      /sent: unlock request with a 38-byte grant in 3 frames/,
      /decision: granted/,
      /latch: unlocking/,
      /latch: open/,
      /done: the box is open/,
    ])
      expect(text).toMatch(step);
    expect(r.box.latch).toBe("open");
  });

  it("accepts a raw binary grant file too, and locks", async () => {
    r.box.latch = "open";
    const g = file("good.bin", Buffer.from(GOOD));
    const res = await drive(r, ["lock", "--grant", g, "--port", port]);
    expect(res.code).toBe(EXIT_OK);
    expect(res.out.join("\n")).toMatch(/sent: lock request with a 38-byte grant/);
    expect(res.out.join("\n")).toMatch(/latch: locking\nlatch: locked\ndone: the box is locked/);
  });

  it("checks a grant file on the phone and says what is wrong instead of sending it", async () => {
    const key = nacl.sign.keyPair.fromSeed(new Uint8Array(32).fill(3));
    const now = Math.floor(Date.now() / 1000);
    const mk = (boxId: string, notBefore: number, notAfter: number) => {
      const f = { boxId, grantId: "0011223344556677", keyId: 3, notBefore, notAfter, perms: 3, uses: 1 };
      return Buffer.from(encodeGrant(f, new Uint8Array(64))).toString("base64");
    };
    const cases: Array<[string, RegExp]> = [
      [file("torn.b64", mk("KB-TEST01", now - 60, now + 3600).slice(0, 40)), /^not sent: this file is not a Keybox grant \(grant_length\)/],
      [file("other.b64", mk("KB-OTHER9", now - 60, now + 3600)), /^not sent: this grant is for box KB-OTHER9, not KB-TEST01$/],
      [file("late.b64", mk("KB-TEST01", now - 7200, now - 3600)), /^not sent: this grant expired at .* \(60 min ago\)$/],
      [file("early.b64", mk("KB-TEST01", now + 86400, now + 2 * 86400)), /^not sent: this grant is valid from .* \(in 24 h\)$/],
    ];
    for (const [f, why] of cases) {
      const res = await drive(r, ["unlock", "--grant", f, "--port", port, "--check"]);
      expect(res.code).toBe(EXIT_USAGE);
      expect(res.err[0]).toMatch(why);
    }
    expect(r.box.calls).toEqual([]);
    expect(r.service.limits().failures).toBe(0);
  });

  it("exits non-zero with the box's reason for a bad grant, and for an unpaired link", async () => {
    const bad = file("bad.b64", Buffer.from(BAD).toString("base64"));
    const res = await drive(r, ["unlock", "--grant", bad, "--port", port]);
    expect(res.code).toBe(EXIT_REFUSED);
    expect(res.out.join("\n")).toMatch(/decision: bad_signature/);
    expect(res.err[0]).toBe("refused: bad_signature");
    expect(res.err[1]).toMatch(/signature does not verify .* mint a new one/);
    expect(r.box.latch).toBe("locked");

    r.clock.advance(5000);
    const good = file("good.b64", Buffer.from(GOOD).toString("base64"));
    const unpaired = await drive(r, ["unlock", "--grant", good, "--port", port, "--no-pair"]);
    expect(unpaired.code).toBe(EXIT_REFUSED);
    expect(unpaired.out.join("\n")).toMatch(/encrypted: no/);
    expect(unpaired.err).toEqual(["refused: link_unencrypted", "  the link is not encrypted and the box is not in development mode: pair (drop --no-pair)"]);
  });

  it("shows the retry time when the box is backing off", async () => {
    const bad = file("bad.b64", Buffer.from(BAD).toString("base64"));
    // two free failures, the third starts the back-off (each run is a new connection)
    for (let i = 0; i < 3; i++) expect((await drive(r, ["unlock", "--grant", bad, "--port", port])).err[0]).toBe("refused: bad_signature");
    const res = await drive(r, ["unlock", "--grant", bad, "--port", port]);
    expect(res.code).toBe(EXIT_REFUSED);
    expect(res.err[0]).toMatch(/^refused: rate_limited \(retry in \d+ s\)$/);
    expect(res.err[1]).toMatch(/the box makes you wait \d+ s before the next one/);
  });

  it("proves presence for a holder-bound grant: signs the box's challenge with the holder key", async () => {
    const holderKeys = nacl.sign.keyPair.fromSeed(new Uint8Array(32).fill(9));
    const fields = {
      boxId: "KB-TEST01",
      grantId: "00112233445566ff",
      keyId: 1,
      notBefore: 1700000000,
      notAfter: 1700086400,
      perms: 1,
      uses: 1,
      holder: holderKeys.publicKey,
    };
    const grant = encodeGrant(fields, new Uint8Array(64).fill(1));
    r.box.reasons[Buffer.from(grant).toString("hex")] = "granted";
    const g = file("bound.b64", Buffer.from(grant).toString("base64"));
    const noKey = await drive(r, ["unlock", "--grant", g, "--port", port]);
    expect(noKey.err[0]).toMatch(/bound to a holder key/);
    expect(r.box.calls[0].holder).toBeUndefined();
    r.box.latch = "locked";

    const k = file("holder.hex", Buffer.from(holderKeys.secretKey.subarray(0, 32)).toString("hex"));
    const res = await drive(r, ["unlock", "--grant", g, "--holder-key", k, "--port", port]);
    expect(res.err).toEqual([]);
    expect(res.code).toBe(EXIT_OK);
    expect(res.out.join("\n")).toMatch(/holder proof: signed the box's challenge/);
    const h = r.box.calls[1].holder!;
    expect(h.challenge.length).toBe(16);
    expect(nacl.sign.detached.verify(holderMessage("KB-TEST01", fields.grantId, h.challenge), h.signature, holderKeys.publicKey)).toBe(true);
    expect(decodeKey(Buffer.from(holderKeys.secretKey))).toEqual(holderKeys.secretKey);
    expect(decodeKey(Buffer.from("abc"))).toMatch(/nor 32 or 64 bytes/);

    // the issuer tool's own key files work as holder keys; the public half is refused with the reason
    const keyFile = { format: "keybox-issuer-key/1", id: 7, publicKey: Buffer.from(holderKeys.publicKey).toString("hex"), secretKey: Buffer.from(holderKeys.secretKey).toString("hex") };
    r.box.latch = "locked";
    const viaKeyFile = await drive(r, ["unlock", "--grant", g, "--holder-key", file("holder.key", JSON.stringify(keyFile)), "--port", port]);
    expect(viaKeyFile.err).toEqual([]);
    expect(viaKeyFile.code).toBe(EXIT_OK);
    const pub = { format: "keybox-issuer-pub/1", id: 7, publicKey: keyFile.publicKey };
    const viaPub = await drive(r, ["unlock", "--grant", g, "--holder-key", file("holder.pub", JSON.stringify(pub)), "--port", port]);
    expect(viaPub.code).toBe(EXIT_USAGE);
    expect(viaPub.err.join("\n")).toMatch(/public \.pub file; give its secret \.key twin/);
  });

  it("reads the state; refuses usage errors; says when the radio is taken or nobody listens", async () => {
    const st = await drive(r, ["state", "--port", port]);
    expect(st.code).toBe(EXIT_OK);
    expect(st.out.join("\n")).toMatch(/state: \{"box":"KB-TEST01","ready":true\}/);

    expect((await drive(r, ["unlock", "--port", port])).code).toBe(EXIT_USAGE);
    expect((await drive(r, ["open"])).code).toBe(EXIT_USAGE);
    expect((await drive(r, ["unlock", "--grant", path.join(dir, "missing"), "--port", port])).code).toBe(EXIT_USAGE);
    expect((await drive(r, ["unlock", "--grant", file("empty", ""), "--port", port])).code).toBe(EXIT_USAGE);

    r.ble.connect({ notify: () => undefined, disconnected: () => undefined }, true);
    const busy = await drive(r, ["info", "--port", port]);
    expect(busy.code).toBe(EXIT_REFUSED);
    expect(busy.err.join("\n")).toMatch(/radio_busy/);
    r.ble.drop();

    await server.close();
    const none = await drive(r, ["info", "--port", port, "--timeout", "2"]);
    expect(none.code).toBe(EXIT_LINK);
    expect(none.err.join("\n")).toMatch(/ECONNREFUSED/);
    expect(none.err.join("\n")).toMatch(/is the simulator \(`npm start`\) running/);
  });

  it("says clearly when the Bluetooth library is missing", async () => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await run(["info", "--ble"], { out: (l) => out.push(l), err: (l) => err.push(l) }, { loadNoble: () => ({ missing: true }) });
    expect(code).toBe(EXIT_NO_BLE);
    expect(err[0]).toMatch(/optional package @abandonware\/noble is not installed/);
    const broken = await run(["info", "--ble"], { out: (l) => out.push(l), err: (l) => err.push(l) }, { loadNoble: () => ({ error: "EAFNOSUPPORT" }) });
    expect(broken).toBe(EXIT_NO_BLE);
    expect(err[2]).toMatch(/installed but cannot start: EAFNOSUPPORT/);
  });
});

describe("grant files", () => {
  it("decodes base64 (standard or URL alphabet, with whitespace) and keeps binary as is", () => {
    const bytes = Uint8Array.of(0xfb, 0xff, 0x00, 0x10, 0x3e, 0x3f);
    expect(decodeGrant(Buffer.from(Buffer.from(bytes).toString("base64") + "\n"))).toEqual(bytes);
    expect(decodeGrant(Buffer.from(Buffer.from(bytes).toString("base64url")))).toEqual(bytes);
    expect(decodeGrant(Buffer.from(bytes))).toEqual(bytes);
    expect(decodeGrant(Buffer.alloc(0))).toBe("grant file is empty");
    // a raw grant that happens to be all base64 characters: --format binary says so
    const ascii = Buffer.from("QUJD");
    expect(decodeGrant(ascii)).toEqual(Uint8Array.of(0x41, 0x42, 0x43));
    expect(decodeGrant(ascii, "binary")).toEqual(new Uint8Array(ascii));
    expect(decodeGrant(Buffer.from([1, 2, 3]), "base64")).toBe("grant file is not valid base64");
  });
});
