'use strict';
// The floor under evloop's generator streams echo server (bench/echo-server.js --api streams) on
// evloop's own transports: a generator per connection that the protocol's dataReceived resumes
// at once with the view it was handed, and that writes the chunk back. No Future, no Task (so no
// loop pass between the data and the resumption), no StreamReader / StreamWriter, no drain, no
// cancellation: what resuming a generator and evloop's transports cost together. Whatever the
// generator streams server costs per message above this is evloop's Future, Task and streams
// machinery; above the protocol server (bench/echo-server.js, default api), the generator's
// resumption alone.
// Not part of the rig or the tests: an experiment, measured by callgrind (instructions per
// message, N and 2N rounds of 64 connections, one 64-byte message in flight each, counted after
// two warm-up drives of 1,500; docs/streams.md has the figures).
// usage: node bench/echo-gen-floor.js --port N   (--port 0 picks a free port, printed as
// "listening on 127.0.0.1:PORT")
const { portOption } = require('./port-option');
const { serveUntilSignal } = require('./serve-until-signal');

const port = portOption('node bench/echo-gen-floor.js --port N');

const EMPTY = Buffer.alloc(0);

function* serve(transport) {
  for (;;) {
    const data = yield;
    if (data.length === 0) break;
    transport.write(data);
  }
  transport.close();
}

class ResumingProtocol {
  constructor() {
    this.gen = null;
  }
  connectionMade(transport) {
    this.gen = serve(transport);
    // To the first `yield`: from there each next(data) is one chunk.
    this.gen.next();
  }
  dataReceived(data) {
    this.gen.next(data);
  }
  eofReceived() {
    this.gen.next(EMPTY);
    return false;
  }
  connectionLost() {
    // Already finished when EOF came first: next() on a finished generator does nothing.
    this.gen.next(EMPTY);
  }
}

serveUntilSignal(() => new ResumingProtocol(), port, 'generator floor');
