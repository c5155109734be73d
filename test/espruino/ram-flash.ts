/**
 * For tests that run firmware modules in the real interpreter
 * (ESPRUINO_BIN): the source of a Flash held in RAM (`flash`, its files in
 * `files`, every byte programmed once) and the board's CRC-32 (`crc`), as
 * ES5 to put before the code under test.
 */
export const RAM_FLASH_JS = `
var files = {};
var flash = {
  create: function (n, size) { if (files[n]) return false; files[n] = new Uint8Array(size).fill(255); return true; },
  writeAt: function (n, at, d) { var f = files[n]; if (!f || at + d.length > f.length) return false; for (var i = 0; i < d.length; i++) if (f[at + i] !== 255) return false; f.set(d, at); return true; },
  read: function (n) { return files[n]; },
  erase: function (n) { delete files[n]; },
  list: function (p) { return Object.keys(files).filter(function (n) { return n.indexOf(p) === 0; }); },
  free: function () { return 1 << 20; }, usage: function () { return { free: 1 << 20, trash: 0, files: 0 }; }, compact: function () {}
};
var crc = function (d) { return E.CRC32(d) >>> 0; };
`;
