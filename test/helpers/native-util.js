'use strict';
// Shared helpers for the native-addon tests (not a test file itself).
const fs = require('fs');
const path = require('path');

// node-gyp-build: prebuilds/ or build/Release, exactly as lib/binding.ts loads it.
const binding = require('node-gyp-build')(path.join(__dirname, '..', '..'));
const { READ, WRITE, ERROR, HUP } = binding.constants;

function openFdCount() {
  return fs.readdirSync('/proc/self/fd').length;
}

// A connected TCP pair on 127.0.0.1 (or ::1): [listener, client, server-side conn].
function tcpPair(family = 'inet', host = '127.0.0.1') {
  const listener = binding.socket(family, 'stream');
  binding.bind(listener, host, 0);
  binding.listen(listener, 16);
  const { port } = binding.getsockname(listener);
  const client = binding.socket(family, 'stream');
  const connected = binding.connect(client, host, port);
  const poller = new binding.Poller('poll');
  try {
    if (connected === 0) {
      poller.add(client, WRITE);
      assertWait(poller, 5000);
      poller.remove(client);
    }
    binding.finishConnect(client);
    poller.add(listener, READ);
    let conn = binding.accept(listener);
    while (conn === -1) {
      assertWait(poller, 5000);
      conn = binding.accept(listener);
    }
    return [listener, client, conn];
  } finally {
    poller.close();
  }
}

function assertWait(poller, timeoutMs) {
  const n = poller.wait(timeoutMs);
  if (n <= 0) throw new Error(`no readiness within ${timeoutMs} ms`);
  return n;
}

// The events of one wait as a Map fd -> bits.
function readyMap(poller, timeoutMs) {
  const n = poller.wait(timeoutMs);
  const map = new Map();
  for (let i = 0; i < n; i++) map.set(poller.events[2 * i], poller.events[2 * i + 1]);
  return map;
}

function closeAll(...fds) {
  for (const fd of fds.flat(Infinity)) {
    try {
      binding.close(fd);
    } catch (err) {
      if (err.code !== 'EBADF') throw err;
    }
  }
}

module.exports = { binding, READ, WRITE, ERROR, HUP, openFdCount, tcpPair, assertWait, readyMap, closeAll };
