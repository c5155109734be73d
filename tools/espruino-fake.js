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
  if (!E.sum) E.sum = function (a) { var s = 0; for (var i = 0; i < a.length; i++) s += a[i]; return s; };
  if (!E.hwRand) E.hwRand = function () { return (Math.random() * 4294967296) >>> 0; };
  E.enableWatchdog = function (t, auto) { hw.watchdog = { timeout: t, auto: auto, kicks: 0 }; };
  E.kickWatchdog = function () { if (hw.watchdog) hw.watchdog.kicks++; };
  if (!E.on) E.on = function () {};
  if (!E.reboot) E.reboot = function () { hw.rebooted = true; };

  if (typeof g.require === "undefined") {
    /*
     * Storage as Espruino lays it out: files one after another (a 32-byte
     * header, data in words), erased files kept as trash until compact(),
     * getFree() counting only the unused tail, and a write that does not fit
     * compacting by itself when the trash would make room. Compaction moves
     * every file after the first erased one, and the bytes under a buffer
     * returned by readArrayBuffer before it (a view into flash on the board)
     * become whatever now lies at that address: garbled, as on the board.
     */
    var files = {};
    var order = [];
    var cost = function (n) { return 32 + Math.ceil(n / 4) * 4; };
    var used = function () { var u = 0; order.forEach(function (f) { u += cost(f.buf.length); }); return u; };
    var live = function (n) { return order.filter(function (f) { return !f.erased && f.name === n; })[0]; };
    var toBytes = function (data) {
      if (typeof data === "string") { var b = new Uint8Array(data.length); for (var i = 0; i < data.length; i++) b[i] = data.charCodeAt(i) & 255; return b; }
      var v = data.buffer ? data : new Uint8Array(data), c = new Uint8Array(v.length);
      for (var k = 0; k < v.length; k++) c[k] = v[k];
      return c;
    };
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
        var bytes = toBytes(data);
        offset = offset || 0;
        if (!(offset > 0)) {
          var len = size || bytes.length;
          var old = live(n);
          if (old) { old.erased = true; delete files[n]; }
          if (used() + cost(len) > hw.storageBytes) storage.compact();
          if (used() + cost(len) > hw.storageBytes) return false;
          var fresh = { name: n, buf: new Uint8Array(len).fill(255), erased: false };
          order.push(fresh);
          files[n] = fresh.buf;
        }
        var f = files[n];
        if (!f || offset + bytes.length > f.length) return false;
        // Espruino programs a file's bytes once: writing over programmed bytes throws.
        for (var j = 0; j < bytes.length; j++) if (f[offset + j] !== 255 && bytes[j] !== 255) throw new Error("Storage: area at offset " + (offset + j) + " of " + n + " already written");
        for (var i = 0; i < bytes.length; i++) f[offset + i] &= bytes[i];
        return true;
      },
      writeJSON: function (n, v) { return storage.write(n, JSON.stringify(v)); },
      erase: function (n) { var f = live(n); if (f) f.erased = true; delete files[n]; },
      list: function (re) { return Object.keys(files).filter(function (n) { return !re || re.test(n); }); },
      getFree: function () { return hw.storageBytes - used(); },
      getStats: function () {
        var st = { totalBytes: hw.storageBytes, freeBytes: hw.storageBytes - used(), fileBytes: 0, fileCount: 0, trashBytes: 0, trashCount: 0 };
        order.forEach(function (f) {
          if (f.erased) { st.trashBytes += cost(f.buf.length); st.trashCount++; } else { st.fileBytes += cost(f.buf.length); st.fileCount++; }
        });
        return st;
      },
      compact: function () {
        var first = -1;
        for (var i = 0; i < order.length && first < 0; i++) if (order[i].erased) first = i;
        if (first < 0) return;
        var image = function (list) {
          var out = new Uint8Array(hw.storageBytes).fill(255), at = 0;
          list.forEach(function (f) { out.set(f.buf, at + 32); at += cost(f.buf.length); });
          return out;
        };
        var at = 0, where = [];
        order.forEach(function (f) { where.push(at); at += cost(f.buf.length); });
        var kept = order.filter(function (f) { return !f.erased; });
        var after = image(kept);
        var moved = [];
        order.forEach(function (f, k) { if (k > first && !f.erased) moved.push({ f: f, at: where[k] }); });
        moved.forEach(function (m) {
          var copy = new Uint8Array(m.f.buf);
          m.f.buf.set(after.subarray(m.at + 32, m.at + 32 + m.f.buf.length));
          m.f.buf = copy;
          files[m.f.name] = copy;
        });
        order = kept;
        hw.compactions++;
      }
    };
    hw.files = files;
    hw.storageBytes = 81920;
    hw.compactions = 0;

    /*
     * The free flash between the interpreter and Storage, as the stock
     * RAK5010 build leaves it (0x81000-0xE2000): require("Flash") erases
     * 4 KiB pages to 0xFF and writes by clearing bits, merging unaligned
     * edges as Espruino's jshFlashWriteAligned does; touching flash outside
     * the free range throws (on the board it would damage the interpreter).
     * E.memoryArea gives a string of those bytes; a JavaScript string cannot
     * point into memory, so it is a copy taken when called, which is the
     * same thing for a code area written only at installation.
     */
    var flash = { start: 0x81000, end: 0xe2000 };
    flash.mem = new Uint8Array(flash.end - flash.start).fill(255);
    hw.flash = flash;
    var inFree = function (addr, len, what) {
      if (!(addr >= flash.start && addr + len <= flash.end)) throw new Error("fake board: " + what + " at 0x" + addr.toString(16) + "+" + len + " is outside the free flash");
    };
    var Flash = {
      getFree: function () { return [{ addr: flash.start, length: flash.end - flash.start }]; },
      getPage: function (addr) { return { addr: addr - (addr % 4096), length: 4096 }; },
      erasePage: function (addr) {
        var p = addr - (addr % 4096);
        inFree(p, 4096, "erasePage");
        flash.mem.fill(255, p - flash.start, p - flash.start + 4096);
      },
      write: function (data, addr) {
        var b = toBytes(data);
        inFree(addr, b.length, "write");
        for (var i = 0; i < b.length; i++) flash.mem[addr - flash.start + i] &= b[i];
      },
      read: function (len, addr) {
        inFree(addr, len, "read");
        return new Uint8Array(flash.mem.subarray(addr - flash.start, addr - flash.start + len));
      }
    };
    E.memoryArea = function (addr, len) {
      if (!addr || len < 0) return undefined;
      inFree(addr, len, "memoryArea");
      var s = "";
      for (var i = 0; i < len; i += 4096) s += String.fromCharCode.apply(null, flash.mem.subarray(addr - flash.start + i, addr - flash.start + Math.min(len, i + 4096)));
      return s;
    };
    E.toArrayBuffer = function (s) { return toBytes(s).buffer; };

    /*
     * reset() and load() as the console has them: both stop every timer and
     * watch of the program in RAM; load() then runs .bootcde from Storage
     * (through eval, which the sandbox teaches to read pretokenised code).
     */
    // The board's pins are globals named after them.
    for (var d = 0; d < 48; d++) if (g["D" + d] === undefined) g["D" + d] = "D" + d;
    g.digitalPulse = function (pin, value, ms) { g.digitalWrite(pin, value); addTimer(function () { g.digitalWrite(pin, !value); }, ms, 0); };

    hw.calls = [];
    g.reset = function () { hw.calls.push("reset"); hw.timers = []; hw.watches = []; };
    g.load = function () {
      hw.calls.push("load");
      hw.timers = [];
      hw.watches = [];
      var code = storage.read(".bootcde");
      if (code !== undefined) (0, g.eval)(code);
    };

    g.require = function (name) {
      if (name === "Storage") return storage;
      if (name === "Flash") return Flash;
      if (name === "crypto" && g.__host) return { SHA256: g.__host.sha256, SHA512: g.__host.sha512 };
      throw new Error("Module " + name + " not found");
    };
  }
})(globalThis);
