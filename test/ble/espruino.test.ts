/**
 * The BLE service as the device runs it: compiled to ES5, bundled, passed
 * through the Espruino gate, and (when ESPRUINO_BIN names a Linux build of
 * the interpreter) driven through a challenge, a granted unlock with a
 * holder proof, a refused lock, back-off and a state read in the real
 * interpreter, with a phone built from the same bundle.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { checkBundle } from "../../tools/gate";
import { bundleCompiled, transpileDeviceTo } from "../../tools/build";

let code = "";
let own = "";
let out = "";

/** The firmware's own pipeline, into a private directory so this test never races the whole build in build/. */
function bundleOne(entry: string, name: string): Promise<string> {
  return bundleCompiled(path.join(out, entry.replace(/\.ts$/, ".js")), { globalName: name });
}

beforeAll(async () => {
  out = fs.mkdtempSync(path.join(os.tmpdir(), "keybox-ble-build-"));
  transpileDeviceTo(out);
  const parts = [
    await bundleOne("firmware/ble/service.ts", "B"),
    await bundleOne("firmware/ble/framing.ts", "F"),
    await bundleOne("firmware/ble/protocol.ts", "P"),
    await bundleOne("firmware/ble/attempts.ts", "A"),
    await bundleOne("firmware/ble/advertising.ts", "V"),
  ];
  code = parts.slice(0, 3).join("\n");
  own = parts.slice(1).join("\n");
}, 120000);

afterAll(() => {
  if (out) fs.rmSync(out, { recursive: true, force: true });
});

const DRIVE = `
var timers = [], now = 0;
var clock = { monotonic: function () { return now; }, wall: function () { return 0; }, setWall: function () {},
  after: function (ms, cb) { var t = { at: now + ms, cb: cb, live: true }; timers.push(t); return { cancel: function () { t.live = false; } }; },
  every: function () { return { cancel: function () {} }; } };
function advance(ms) {
  var end = now + ms;
  for (;;) {
    var best = null;
    for (var i = 0; i < timers.length; i++) { var t = timers[i]; if (t.live && t.at <= end && (!best || t.at < best.at)) best = t; }
    if (!best) break;
    best.live = false; now = best.at; best.cb();
  }
  now = end;
}
function crc(d) { return E.CRC32(d); }
var h = {}, sent = [], published = null;
var ble = { publish: function (l, o) { published = o; }, setInfo: function () {}, notify: function (f) { if (f.length > 20) print("FAIL long frame"); sent.push(f); },
  advertise: function () {}, onConnect: function (cb) { h.c = cb; return { cancel: function () {} }; }, onSecured: function () { return { cancel: function () {} }; },
  onDisconnect: function (cb) { return { cancel: function () {} }; }, onWrite: function (cb) { h.w = cb; return { cancel: function () {} }; }, disconnect: function () {} };
var recs = [];
var log = { records: function () { return recs; }, append: function (r) { recs.push(r); return true; }, rewrite: function (r) { recs = r; return true; } };
var latch = "locked", svc, holders = [];
var handler = { request: function (kind, g, cb, hp) {
    holders.push(hp ? hp.challenge.length + "/" + hp.signature.length : "none");
    clock.after(100, function () {
      if (g[0] !== 7) return cb("bad_signature");
      cb("granted"); latch = "unlocking"; svc.progress(latch);
      clock.after(500, function () { latch = "open"; svc.progress(latch); });
    });
  }, state: function () { return { latch: latch }; } };
svc = new B.BleService({ ble: ble, clock: clock, events: { emit: function () {}, later: function (f) { f(); } }, log: log, crc32: crc,
  random: { bytes: function (n) { return new Uint8Array(n).map(function () { return Math.random() * 256; }); } },
  config: { boxId: "KB-1", devMode: false, firmwareVersion: "0.1.0" }, handler: handler });
print("CONSOLE " + published.console);
h.c({ encrypted: true });
var tag = 0;
function req(m) { var fs = F.encodeFrames(m, tag++, crc); for (var i = 0; i < fs.length; i++) h.w(fs[i]); }
var good = new Uint8Array(120); good[0] = 7;
req(P.requestMessage(4)); advance(10);
req(P.requestMessage(1, good, new Uint8Array(64))); advance(2000);
req(P.requestMessage(2, new Uint8Array(100))); advance(2000);
req(P.requestMessage(2, new Uint8Array(100))); advance(200);
req(P.requestMessage(3)); advance(10);
var rx = new F.Reassembler({ clock: clock, crc32: crc, maxBytes: 600, timeoutMs: 5000, onTimeout: function () {} });
for (var i = 0; i < sent.length; i++) { var r = rx.push(sent[i]); if (r !== undefined) { var m = P.parseResponse(r); print("MSG " + m.type + " " + (m.reason || (typeof m.state === "string" ? m.state : m.state && JSON.stringify(m.state)) || m.code || (m.challenge && m.challenge.length) || "")); } }
print("HOLDERS " + holders.join(","));
print("LIMITS " + JSON.stringify(svc.limits()) + " " + recs.length);
print("GARBAGE " + rx.push(new Uint8Array([1, 2, 3])) + " " + rx.push(new Uint8Array(0)));
`;

describe("the BLE service on Espruino", () => {
  // The service bundle also carries firmware/store (the journal), which the whole-bundle gate checks.
  it("framing, protocol, attempts and advertising pass the Espruino gate", () => {
    expect(checkBundle(own).errors).toEqual([]);
  });

  const bin = process.env.ESPRUINO_BIN;
  (bin ? it : it.skip)("runs the protocol in the real interpreter named by ESPRUINO_BIN", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keybox-ble-"));
    try {
      const file = path.join(dir, "run.js");
      fs.writeFileSync(file, code + "\n" + DRIVE);
      const r = spawnSync(bin!, [file], { cwd: dir, input: "", encoding: "latin1", timeout: 60000 });
      const out = r.stdout;
      expect(out).not.toMatch(/Uncaught|SyntaxError|ReferenceError|FAIL/);
      const lines = out.split(/\r?\n/).filter((l) => /^(CONSOLE|MSG|HOLDERS|LIMITS|GARBAGE) /.test(l));
      expect(lines).toEqual([
        "CONSOLE false",
        "MSG challenge 16",
        "MSG result granted",
        "MSG progress locked",
        "MSG progress unlocking",
        "MSG progress open",
        "MSG result bad_signature",
        "MSG error rate_limited",
        'MSG state {"latch":"open","v":"0.1.0"}',
        "HOLDERS 16/64,none",
        'LIMITS {"failures":1,"waitMs":0} 3',
        "GARBAGE frame_garbled frame_garbled",
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
