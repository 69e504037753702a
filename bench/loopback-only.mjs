/**
 * Preload (`node --import ./bench/loopback-only.mjs server.js`) that forces every TCP
 * `server.listen()` in the process onto 127.0.0.1. Used to run Portkey's gateway, which has no
 * host flag and otherwise listens on all interfaces (`::`), on loopback only.
 */
import net from 'node:net';

const HOST = '127.0.0.1';
const original = net.Server.prototype.listen;

net.Server.prototype.listen = function listen(...args) {
  const first = args[0];
  if (first !== null && typeof first === 'object' && !Array.isArray(first)) {
    // listen(options[, cb]): keep unix sockets (`path`) as they are.
    if (first.path === undefined) args[0] = { ...first, host: HOST };
  } else if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    // listen(port[, host][, backlog][, cb]): replace or insert the host.
    if (typeof args[1] === 'string') args[1] = HOST;
    else if (args[1] === undefined && args.length >= 2) args[1] = HOST; // listen(port, undefined, cb)
    else args.splice(1, 0, HOST);
  } else if (first === undefined || typeof first === 'function') {
    // listen() / listen(cb): random port.
    args.splice(0, first === undefined && args.length > 0 ? 1 : 0, 0, HOST);
  }
  return original.apply(this, args);
};
