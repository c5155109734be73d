/*
 * Loaded with `node --require` into a process under test (and, through
 * NODE_OPTIONS, into every node process it starts). Independently of the
 * code under test, it makes the network unusable: TCP and TLS connects, UDP,
 * DNS, http/https/http2 requests and fetch throw, and each attempt is
 * appended as one line to the file named by KEYBOX_NET_LOG. Unix-domain
 * sockets (IPC, D-Bus) are not network and stay usable.
 */
"use strict";
const fs = require("fs");
const logFile = process.env.KEYBOX_NET_LOG;
function attempt(what) {
  const line = process.pid + " " + what + "\n";
  if (logFile) fs.appendFileSync(logFile, line);
  throw new Error("no-network guard: blocked " + what);
}
const net = require("net");
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function () {
  const a0 = Array.isArray(arguments[0]) ? arguments[0][0] : arguments[0];
  const unix = (a0 && typeof a0 === "object" && typeof a0.path === "string") ||
    (typeof a0 === "string" && !/^\d+$/.test(a0));
  if (!unix) attempt("socket.connect " + JSON.stringify(a0 && typeof a0 === "object" ? { host: a0.host, port: a0.port } : a0));
  return connect.apply(this, arguments);
};
for (const mod of ["http", "https"]) {
  const m = require(mod);
  m.request = function (u) { attempt(mod + ".request " + (typeof u === "string" ? u : JSON.stringify(u && (u.href || u.host || u.hostname)))); };
  m.get = function (u) { attempt(mod + ".get " + (typeof u === "string" ? u : JSON.stringify(u && (u.href || u.host || u.hostname)))); };
}
require("http2").connect = function (u) { attempt("http2.connect " + String(u)); };
require("tls").connect = function () { attempt("tls.connect"); };
require("dgram").createSocket = function () { attempt("dgram.createSocket"); };
const dns = require("dns");
for (const f of ["lookup", "resolve", "resolve4", "resolve6", "resolveAny"]) {
  dns[f] = function (h) { attempt("dns." + f + " " + h); };
  dns.promises[f] = function (h) { attempt("dns.promises." + f + " " + h); };
}
globalThis.fetch = function (u) { attempt("fetch " + String(u)); };
