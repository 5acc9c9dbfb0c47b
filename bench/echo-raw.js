'use strict';
// An echo server written straight on the native Poller and socket calls: the floor under every
// layer above it. One native call per ready batch (Poller.start), one recv and one send per
// message, reads into one reused 256 KiB buffer, a copy only for bytes the kernel would not take.
// usage: node bench/echo-raw.js --port N [--backend epoll|poll|select]   (listens on 127.0.0.1;
// --port 0 picks a free port; the chosen one is printed as "listening on 127.0.0.1:PORT")
const { binding } = require('evloop/internal');
const { acceptAll } = require('./raw-accept');

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
}
const port = Number(option('--port', NaN));
const backend = option('--backend', binding.backends[0]);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error('usage: node bench/echo-raw.js --port N [--backend epoll|poll|select]');
  process.exit(2);
}

const { READ, WRITE, ERROR, HUP } = binding.constants;
const poller = new binding.Poller(backend);
const listener = binding.socket('inet', 'stream');
binding.setsockopt(listener, 'SO_REUSEADDR', 1);
binding.bind(listener, '127.0.0.1', port);
binding.listen(listener, 1024);
poller.add(listener, READ);

const slab = Buffer.allocUnsafe(256 * 1024);
const unsent = new Map(); // fd -> Buffer the kernel has not taken yet (its READ interest is off)

function drop(fd) {
  unsent.delete(fd);
  binding.close(fd); // also drops it from the poller
}

function onConnection(fd) {
  poller.add(fd, READ);
}

function flush(fd) {
  const rest = unsent.get(fd);
  const sent = binding.send(fd, rest, 0, rest.length);
  if (sent === rest.length) {
    unsent.delete(fd);
    poller.modify(fd, READ);
  } else if (sent > 0) {
    unsent.set(fd, rest.subarray(sent));
  }
}

function echo(fd) {
  const got = binding.recv(fd, slab, 0, slab.length);
  if (got === 0) return drop(fd);
  if (got < 0) return;
  const sent = binding.send(fd, slab, 0, got);
  if (sent < got) {
    // Back-pressure: stop reading this connection until the kernel takes the rest.
    unsent.set(fd, Buffer.from(slab.subarray(Math.max(sent, 0), got)));
    poller.modify(fd, WRITE);
  }
}

poller.start((n) => {
  const events = poller.events;
  for (let i = 0; i < 2 * n; i += 2) {
    const fd = events[i];
    const ready = events[i + 1];
    if (fd === listener) {
      acceptAll(binding, listener, onConnection);
      continue;
    }
    try {
      if (unsent.has(fd)) {
        if (ready & (WRITE | ERROR | HUP)) flush(fd);
      } else if (ready & (READ | ERROR | HUP)) {
        echo(fd);
      }
    } catch {
      drop(fd); // ECONNRESET, EPIPE: the client is gone
    }
  }
});

console.log(`listening on 127.0.0.1:${binding.getsockname(listener).port} (${backend})`);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    poller.close();
    process.exit(0);
  });
}
