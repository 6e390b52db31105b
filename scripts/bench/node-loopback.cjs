// Preloaded (`node --require`) by versus.sh into the original Node server so
// that it listens on 127.0.0.1 only. The original calls `serve({ port })`,
// which binds every interface, and has no setting for the host; patching
// `net.Server.prototype.listen` here changes where it binds without touching
// its files. Only TCP listens (a port, or options without `path`/`fd`) are
// rewritten; Unix sockets and handles pass through.
"use strict";

const net = require("net");

const LOOPBACK = "127.0.0.1";
const original = net.Server.prototype.listen;

function isPort(v) {
  return typeof v === "number" || (typeof v === "string" && /^\d+$/.test(v));
}

net.Server.prototype.listen = function listenOnLoopback(...args) {
  const first = args[0];
  if (isPort(first)) {
    // listen(port[, host][, backlog][, cb]): force the host.
    if (args.length === 1 || typeof args[1] === "function" || typeof args[1] === "number") {
      args.splice(1, 0, LOOPBACK);
    } else {
      args[1] = LOOPBACK;
    }
  } else if (
    first !== null &&
    typeof first === "object" &&
    first.path === undefined &&
    first.fd === undefined &&
    first._handle === undefined &&
    first.handle === undefined
  ) {
    args[0] = { ...first, host: LOOPBACK };
  }
  return original.apply(this, args);
};
