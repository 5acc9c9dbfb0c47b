'use strict';
// The floor under evloop's Protocol echo server (bench/echo-server.js, default api) in the same
// process model: what the least JavaScript per message costs when, as in evloop, the native
// poller reads every ready socket into a shared slab in the call that reports the batch, each
// message reaches a callback as a fresh Buffer view of the slab (a protocol may keep it), and
// each write is copied into a send buffer that one native call sends when the batch ends.
// Nothing else: no loop, passes, handles, transports, flow control or error reporting (a send
// the kernel does not take whole closes the connection; so does any error). Whatever evloop's
// server costs per message above this is evloop's; this itself is V8's and Node's share of the
// gap to a C server (the view, the copy, the calls into and out of JS), not removable by evloop.
// Not part of the rig or the tests: an experiment to measure, by callgrind (instructions per
// message, N and 2N) or by the loadgen's server CPU per message beside the C server. Measured
// 2026-12-01 (64 connections, 64-byte messages, one in flight each, N and 2N rounds counted
// after a warm-up of 1,500): 780 instructions per message, against 1,325-1,330 for
// bench/echo-server.js and 76 for the C epoll server; 200 of them make the view and 160 copy
// the write (docs/transports.md, "How it is fast"). Counted from the start, with the
// recompilations of the first rounds, the floor read 950-1,010. With 64 connections each
// pipelining 16 messages (the rig's loadgen, counted mid-run): 1,009 a 16-message read, against
// ~1,335 for bench/echo-server.js (docs/transports.md, "With 16 messages in flight").
// usage: node bench/echo-floor.js --port N   (127.0.0.1, epoll/kqueue/poll by the addon's
// first backend; --port 0 picks a free port, printed as "listening on 127.0.0.1:PORT")
const { Buffer } = require('node:buffer');
const { portOption } = require('./port-option');
const { binding } = require('evloop/internal');
const { acceptAll } = require('./raw-accept');

const port = portOption('node bench/echo-floor.js --port N');

const { READ, AUTO_READ, READ_NOT_DONE, READ_WOULD_BLOCK } = binding.constants;
// The sizes evloop uses (lib/native/binding.ts).
const SLAB_SIZE = 512 * 1024;
const MIN_READ = 64 * 1024;
const MIN_BATCH_READ = 4 * 1024;
const MAX_READ = 256 * 1024;
const SEND_BUFFER_SIZE = 64 * 1024;
const SEND_BATCH_ENTRIES = 1024;
// Node's Buffer class, as evloop makes its views (lib/native/buffer-view.ts).
const FastBuffer = Buffer[Symbol.species];

const poller = new binding.Poller(binding.backends[0]);
const events = poller.events;
const reads = poller.reads;
let slab;
let slabBytes;
let slabBase;
function newSlab() {
  slab = Buffer.allocUnsafe(SLAB_SIZE);
  slabBytes = slab.buffer;
  slabBase = slab.byteOffset;
  // As the loop: the poller reads on down to MIN_BATCH_READ left in a batch, and a new slab is
  // taken after a batch that left less than MIN_READ. With MIN_READ here, ~8% of reads (64
  // connections x16) went the way below, each allocating MAX_READ: ~630 instructions a read
  // more on average, and scavenges several times as often (callgrind).
  poller.setReadSlab(slab, MIN_BATCH_READ, MAX_READ);
}
newSlab();

const sendBytes = new ArrayBuffer(SEND_BUFFER_SIZE);
const sendBuf = new Uint8Array(sendBytes);
const opsBytes = new ArrayBuffer(16 * SEND_BATCH_ENTRIES);
const ops = new Int32Array(opsBytes);
let sendCount = 0;
let sendUsed = 0;

function flush() {
  const n = sendCount;
  sendCount = 0;
  sendUsed = 0;
  if (binding.sendBatch(sendBytes, opsBytes, n) === 0) return;
  for (let i = 0; i < n; i++) if (ops[4 * i + 3] !== ops[4 * i + 2]) drop(ops[4 * i]);
}

// The protocol side: one object per connection, called once per message.
class Conn {
  constructor(fd) {
    this.fd = fd;
  }
  write(data) {
    const length = data.length;
    if (sendUsed + length > SEND_BUFFER_SIZE || sendCount === SEND_BATCH_ENTRIES) flush();
    sendBuf.set(data, sendUsed);
    const o = 4 * sendCount++;
    ops[o] = this.fd;
    ops[o + 1] = sendUsed;
    ops[o + 2] = length;
    sendUsed += length;
  }
  dataReceived(data) {
    this.write(data);
  }
}

const conns = [];
function drop(fd) {
  if (conns[fd] === undefined) return;
  conns[fd] = undefined;
  binding.close(fd); // also drops it from the poller
}

const listener = binding.socket('inet', 'stream');
binding.setsockopt(listener, 'SO_REUSEADDR', 1);
binding.bind(listener, '127.0.0.1', port);
binding.listen(listener, 1024);
poller.add(listener, READ);

function onConnection(fd) {
  conns[fd] = new Conn(fd);
  poller.add(fd, READ | AUTO_READ);
}

poller.start((n) => {
  for (let i = 0; i < 2 * n; i += 2) {
    const fd = events[i];
    if (fd === listener) {
      acceptAll(binding, listener, onConnection);
      continue;
    }
    const conn = conns[fd];
    if (conn === undefined) continue;
    const length = reads[i + 1];
    if (length > 0) conn.dataReceived(new FastBuffer(slabBytes, slabBase + reads[i], length));
    else if (length === READ_NOT_DONE) {
      // The slab had no room left for this one (rare with small messages): a read of its own.
      const buf = Buffer.allocUnsafe(MAX_READ);
      const got = binding.recv(fd, buf, 0, MAX_READ);
      if (got > 0) conn.dataReceived(buf.subarray(0, got));
      else if (got === 0) drop(fd);
    } else if (length !== READ_WOULD_BLOCK) drop(fd); // EOF or an error
  }
  if (sendCount !== 0) flush();
  if (SLAB_SIZE - reads[reads.length - 1] < MIN_READ) newSlab();
});

console.log(`listening on 127.0.0.1:${binding.getsockname(listener).port} (floor)`);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    poller.close();
    process.exit(0);
  });
}
