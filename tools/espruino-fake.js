/*
 * A fake of the Espruino device world, in ES5, for running the flashed
 * bundle off the board: in a Node vm context (the gate) and in the Linux
 * build of the interpreter (JsVars measurement). It installs virtual timers
 * (advanced by __hw.advance) and records what the firmware does to pins,
 * the radio and the UART in __hw. Natives the host already has (E.CRC32,
 * require("Storage") on the Linux interpreter) are kept.
 */
(function (g) {
  var hw = {
    now: 0,
    wall0: 0,
    timers: [],
    nextId: 1,
    level: {},
    analog: {},
    writes: [],
    watches: [],
    nrf: { services: null, serviceOptions: null, advertising: [], security: null, handlers: {}, updates: [] },
    serial: { setup: null, written: "", handlers: [] },
    i2c: [],
    watchdog: null,
    logs: []
  };
  g.__hw = hw;

  function addTimer(cb, ms, period) {
    var t = { id: hw.nextId++, at: hw.now + (ms > 0 ? ms : 0), period: period, cb: cb };
    hw.timers.push(t);
    return t.id;
  }
  function removeTimer(id) {
    hw.timers = hw.timers.filter(function (t) { return t.id !== id; });
  }
  hw.advance = function (ms) {
    var target = hw.now + ms;
    for (;;) {
      var due = null;
      for (var i = 0; i < hw.timers.length; i++) {
        var t = hw.timers[i];
        if (t.at <= target && (due === null || t.at < due.at || (t.at === due.at && t.id < due.id))) due = t;
      }
      if (due === null) break;
      hw.now = due.at;
      if (due.period) due.at += due.period; else removeTimer(due.id);
      due.cb();
    }
    hw.now = target;
  };
  g.setTimeout = function (cb, ms) { return addTimer(cb, ms, 0); };
  g.setInterval = function (cb, ms) { return addTimer(cb, ms, ms > 1 ? ms : 1); };
  g.clearTimeout = removeTimer;
  g.clearInterval = removeTimer;
  g.changeInterval = function (id, ms) {
    hw.timers.forEach(function (t) { if (t.id === id) { t.period = ms; t.at = hw.now + ms; } });
  };
  g.getTime = function () { return hw.wall0 + hw.now / 1000; };
  g.setTime = function (s) { hw.wall0 = s - hw.now / 1000; };

  function pinName(p) { return String(p); }
  function eachPin(p, fn) {
    if (typeof p === "object" && p !== null && p.length !== undefined) for (var i = 0; i < p.length; i++) fn(pinName(p[i]), i);
    else fn(pinName(p), 0);
  }
  g.digitalWrite = function (pin, value) {
    eachPin(pin, function (name, i) {
      var v = typeof pin === "object" && pin !== null && pin.length !== undefined ? (value >> (pin.length - 1 - i)) & 1 : value ? 1 : 0;
      hw.level[name] = v;
      hw.writes.push({ at: hw.now, pin: name, value: v });
    });
  };
  g.digitalRead = function (pin) { return hw.level[pinName(pin)] ? 1 : 0; };
  g.pinMode = function () {};
  g.analogRead = function (pin) { var v = hw.analog[pinName(pin)]; return v === undefined ? 0.5 : v; };
  g.analogWrite = function (pin, value) { hw.writes.push({ at: hw.now, pin: pinName(pin), value: value }); };
  g.setWatch = function (cb, pin, opts) {
    var w = { id: hw.nextId++, cb: cb, pin: pinName(pin), debounce: (opts && opts.debounce) || 0, pending: 0 };
    hw.watches.push(w);
    return w.id;
  };
  g.clearWatch = function (id) { hw.watches = hw.watches.filter(function (w) { return w.id !== id; }); };
  /* A switch changing at the pin: watchers hear it after their debounce. */
  hw.setPin = function (pin, value) {
    var name = pinName(pin);
    hw.level[name] = value ? 1 : 0;
    hw.watches.forEach(function (w) {
      if (w.pin !== name) return;
      if (w.pending) removeTimer(w.pending);
      w.pending = addTimer(function () { w.pending = 0; w.cb({ state: !!hw.level[name], time: g.getTime(), lastTime: g.getTime() }); }, w.debounce, 0);
    });
  };

  var nrfHandlers = hw.nrf.handlers;
  g.NRF = {
    setServices: function (s, o) { hw.nrf.services = s; hw.nrf.serviceOptions = o || {}; },
    updateServices: function (s) { hw.nrf.updates.push(s); },
    setAdvertising: function (d, o) { hw.nrf.advertising.push({ data: d, options: o || {} }); },
    setSecurity: function (s) { hw.nrf.security = s; },
    getSecurityStatus: function () { return { connected: false, encrypted: false, mitm_protected: false, bonded: false }; },
    disconnect: function () {},
    getBattery: function () { return 3.3; },
    on: function (ev, cb) { (nrfHandlers[ev] = nrfHandlers[ev] || []).push(cb); }
  };
  g.Serial1 = {
    setup: function (baud, o) { hw.serial.setup = { baud: baud, options: o }; },
    on: function (ev, cb) { if (ev === "data") hw.serial.handlers.push(cb); },
    write: function (d) { hw.serial.written += d; }
  };
  g.I2C1 = {
    setup: function () {},
    writeTo: function (a, d) { hw.i2c.push({ addr: a, data: d }); },
    readFrom: function (a, n) { return new Uint8Array(n); }
  };

  var E = g.E || {};
  g.E = E;
  if (!E.CRC32) E.CRC32 = function (d) {
    var c = 0xffffffff;
    for (var i = 0; i < d.length; i++) {
      c ^= typeof d === "string" ? d.charCodeAt(i) : d[i];
      for (var k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
    }
    return (c ^ 0xffffffff) >>> 0;
  };
  if (!E.convolve) E.convolve = function (a, b, offset) {
    var s = 0;
    for (var i = 0; i < a.length; i++) s += a[i] * b[(i + offset) % b.length];
    return s;
  };
  if (!E.hwRand) E.hwRand = function () { return (Math.random() * 4294967296) >>> 0; };
  E.enableWatchdog = function (t, auto) { hw.watchdog = { timeout: t, auto: auto, kicks: 0 }; };
  E.kickWatchdog = function () { if (hw.watchdog) hw.watchdog.kicks++; };
  if (!E.on) E.on = function () {};
  if (!E.reboot) E.reboot = function () { hw.rebooted = true; };

  if (typeof g.require === "undefined") {
    var files = {};
    var storage = {
      read: function (n) {
        var f = files[n];
        if (!f) return undefined;
        var s = "";
        for (var i = 0; i < f.length; i++) s += String.fromCharCode(f[i]);
        return s;
      },
      readArrayBuffer: function (n) { return files[n] ? files[n].buffer : undefined; },
      readJSON: function (n) { var s = storage.read(n); return s === undefined ? undefined : JSON.parse(s); },
      write: function (n, data, offset, size) {
        var bytes = typeof data === "string" ? data.split("").map(function (c) { return c.charCodeAt(0); }) : new Uint8Array(data.buffer || data);
        offset = offset || 0;
        if (!(offset > 0)) files[n] = new Uint8Array(size || bytes.length).fill(255);
        var f = files[n];
        if (!f || offset + bytes.length > f.length) return false;
        for (var i = 0; i < bytes.length; i++) f[offset + i] &= bytes[i];
        return true;
      },
      writeJSON: function (n, v) { return storage.write(n, JSON.stringify(v)); },
      erase: function (n) { delete files[n]; },
      list: function (re) { return Object.keys(files).filter(function (n) { return !re || re.test(n); }); },
      getFree: function () { return 40960; },
      compact: function () {}
    };
    hw.files = files;
    g.require = function (name) {
      if (name === "Storage") return storage;
      if (name === "crypto" && g.__host) return { SHA256: g.__host.sha256, SHA512: g.__host.sha512 };
      throw new Error("Module " + name + " not found");
    };
  }
})(globalThis);
