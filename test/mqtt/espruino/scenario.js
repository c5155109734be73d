// Runs inside the Espruino interpreter after the uplink bundle (global K): the
// codec, the client, the outbox, the command path and the wall clock on a
// scripted broker and a hand-rolled virtual clock. Prints ALL OK or FAIL lines.
var out = [];
function ok(c, m) { if (!c) { out.push("FAIL " + m); } }
// codec round trip
var pk = K.encode({ cmd: "publish", topic: "kb/X/events", payload: new Uint8Array([1,2,3]), qos: 1, dup: true, retain: false, messageId: 300 });
var p = new K.Parser({ maxPacket: 256 }); var got = [];
ok(p.feed(pk.subarray(0, 3), got) === undefined && got.length === 0, "partial");
ok(p.feed(pk.subarray(3), got) === undefined && got.length === 1, "whole");
ok(got[0].topic === "kb/X/events" && got[0].messageId === 300 && got[0].dup === true && got[0].payload[2] === 3, "fields");
ok(new K.Parser({}).feed(new Uint8Array([0xf0, 0]), []) === "mqtt_type", "bad type");
var c = K.encode({ cmd: "connect", clientId: "kb-1", keepalive: 60, clean: false, will: { topic: "s", payload: new Uint8Array([111]), qos: 1, retain: true }, username: "u", password: new Uint8Array([9]) });
var g2 = []; new K.Parser({}).feed(c, g2); ok(g2[0].clientId === "kb-1" && g2[0].will.retain && g2[0].username === "u", "connect");
// virtual clock
var now = 0, q = [], seq = 0;
function sched(ms, per, cb) { var t = { at: now + ms, per: per, cb: cb, live: true, s: seq++ }; q.push(t); return { cancel: function () { t.live = false; } }; }
var clock = { monotonic: function () { return now; }, wall: function () { return 1750000000 + now / 1000; }, setWall: function () {},
  after: function (ms, cb) { return sched(ms, 0, cb); }, every: function (ms, cb) { return sched(ms, ms, cb); } };
function advance(ms) { var end = now + ms; for (;;) { q = q.filter(function (t) { return t.live; }); q.sort(function (a, b) { return a.at - b.at || a.s - b.s; });
  var t = q[0]; if (!t || t.at > end) break; now = t.at; if (t.per) t.at += t.per; else t.live = false; t.cb(); } now = end; }
var rnd = { bytes: function (n) { var b = new Uint8Array(n); for (var i = 0; i < n; i++) b[i] = (i * 37 + now) & 255; return b; } };
// in-memory record log
function Log() { this.r = []; }
Log.prototype.records = function () { return this.r.slice(); };
Log.prototype.append = function (x) { this.r.push(x.slice()); return true; };
Log.prototype.rewrite = function (x) { this.r = x.map(function (y) { return y.slice(); }); return true; };
Log.prototype.close = function () {};
// scripted broker over a fake socket
var sent = [], sock, bp = new K.Parser({ maxPacket: 4096 });
var factory = function (cb) { clock.after(10, function () {
  var dataCb, closeCb;
  sock = { write: function (d, wcb) { var arr = []; bp.feed(d, arr); for (var i = 0; i < arr.length; i++) sent.push(arr[i]); clock.after(1, function () { if (wcb) wcb(); }); },
    onData: function (f) { dataCb = f; return { cancel: function () {} }; }, onClose: function (f) { closeCb = f; return { cancel: function () {} }; }, close: function () {},
    push: function (pkt) { clock.after(5, function () { dataCb(K.encode(pkt)); }); } };
  cb(undefined, sock); }); };
var bus = { l: [], on: function (f) { this.l.push(f); return { cancel: function () {} }; }, emit: function (t, r, d) { var e = { type: t, reason: r, t: 1750000000, m: now, d: d }; for (var i = 0; i < this.l.length; i++) this.l[i](e); return e; } };
var wc = new K.WallClock({ clock: clock, log: new Log() });
var up = new K.Uplink({ clock: clock, random: rnd, events: bus, boxId: "KB-1", connect: factory, outboxLog: new Log(), commandLog: new Log(), wallclock: wc,
  verify: function () { return false; }, issuerKey: function () { return undefined; }, execute: function (c, d) { d(); }, telemetry: function () { return { bat: 3900, sig: -80, latch: "locked" }; } });
bus.emit("boot", "locked", { v: "0.1" });
up.start();
advance(100);
ok(sent[0] && sent[0].cmd === "connect" && sent[0].clean === false, "connect sent");
sock.push({ cmd: "connack", sessionPresent: false, returnCode: 0 });
advance(100);
var pubs = sent.filter(function (x) { return x.cmd === "publish" && x.topic === "kb/KB-1/events"; });
ok(sent.some(function (x) { return x.cmd === "subscribe"; }), "subscribed");
ok(pubs.length === 2, "two events published: " + pubs.length);
var ev = JSON.parse(E.toString(pubs[0].payload));
ok(ev.seq === 1 && ev.type === "boot", "event 1 " + E.toString(pubs[0].payload));
for (var i = 0; i < pubs.length; i++) sock.push({ cmd: "puback", messageId: pubs[i].messageId });
advance(100);
ok(up.outbox.size === 0, "outbox drained " + up.outbox.size);
advance(130000);
ok(sent.some(function (x) { return x.cmd === "pingreq"; }), "ping");
sock.push({ cmd: "publish", topic: "kb/KB-1/cmd", payload: new Uint8Array([1, 3, 0, 1, 4, 75, 66, 45, 49]), qos: 1, dup: false, retain: false, messageId: 9 });
advance(100);
ok(sent.some(function (x) { return x.cmd === "puback" && x.messageId === 9; }), "cmd acked");
var replies = sent.filter(function (x) { return x.cmd === "publish" && x.topic === "kb/KB-1/reply"; });
ok(replies.length === 1 && E.toString(replies[0].payload).indexOf("cmd_short") > 0, "reply refused");
print(out.length ? out.join("\n") : "ALL OK");
print(JSON.stringify(process.memory()));
