'use strict';
// The floor under evloop's async-function streams echo server (bench/echo-server.js --api
// async) on evloop's own transports: an async function per connection that awaits a plain
// native promise per read, resolved by the protocol's dataReceived with the view it was handed,
// and writes the chunk back. No Future, no Task, no StreamReader / StreamWriter, no drain, no
// cancellation: what V8's `await` and evloop's transports cost together, and nothing else.
// Whatever the async streams server costs per message above this is evloop's Future, Task and
// streams machinery, not V8's; above the protocol server (bench/echo-server.js, default api),
// this is V8's share — the await, the microtask, and the `then` lookup that resolving a promise
// with a Buffer makes through four prototypes (docs/futures.md).
// Not part of the rig or the tests: an experiment, measured by callgrind (instructions per
// message, N and 2N) or by the loadgen's server CPU per message beside the other servers.
// Measured 2026-12-01 (64 connections, 64-byte messages, one in flight each, N = 1,000 and 2,000
// rounds counted after two warm-up drives of 1,500): 2,831 instructions per message, against
// 5,082 for the async streams server and 1,265 for the protocol server (docs/futures.md).
// usage: node bench/echo-async-floor.js --port N   (--port 0 picks a free port, printed as
// "listening on 127.0.0.1:PORT")
const { portOption } = require('./port-option');
const { serveUntilSignal } = require('./serve-until-signal');

const port = portOption('node bench/echo-async-floor.js --port N');

const EMPTY = Buffer.alloc(0);

class ChunkProtocol {
  constructor() {
    this.transport = null;
    this.resolveNext = null;
    this.queued = [];
  }
  connectionMade(transport) {
    this.transport = transport;
    serve(this).catch((err) => {
      console.error(err);
      transport.abort();
    });
  }
  dataReceived(data) {
    const resolve = this.resolveNext;
    if (resolve !== null) {
      this.resolveNext = null;
      resolve(data);
    } else this.queued.push(data);
  }
  eofReceived() {
    this.dataReceived(EMPTY);
    return false;
  }
  connectionLost() {
    this.dataReceived(EMPTY);
  }
  next() {
    if (this.queued.length > 0) return this.queued.shift();
    return new Promise((resolve) => {
      this.resolveNext = resolve;
    });
  }
}

async function serve(protocol) {
  for (;;) {
    const data = await protocol.next();
    if (data.length === 0) break;
    protocol.transport.write(data);
  }
  protocol.transport.close();
}

serveUntilSignal(() => new ChunkProtocol(), port, 'async floor');
