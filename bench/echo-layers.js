'use strict';
// Where a streams echo server's extra CPU per message goes, in JS alone: no sockets (a
// transport stand-in whose write() only counts), CONNS connections fed one 64-byte chunk each
// per loop pass, and the process's CPU time per message for each way of writing the handler,
// all in this one process, alternating, as paired medians against the plain Protocol:
//   protocol     a Protocol that writes each chunk back from dataReceived (the protocol server)
//   promise      an async function whose reads are native promises (what plain Node code pays)
//   future       an async-function Task whose reads are bare evloop Futures (no StreamReader)
//   async        startServer's path: StreamReaderProtocol + an async-function handler
//   future-gen   a generator Task whose reads are bare Futures
//   streams      StreamReaderProtocol + a generator handler
// `async` − `future` and `streams` − `future-gen` are what the streams layer itself costs;
// `future` − `promise` is what an evloop Future and its Task cost over a native promise.
// usage: node bench/echo-layers.js [--variants protocol,promise,...] [--conns 64] [--rounds 7] [--passes 3000]
const path = require('node:path');
const { run, getRunningLoop, sleep } = require(path.join(__dirname, '..', 'dist', 'index.js'));
const { StreamReader, StreamReaderProtocol } = require(path.join(__dirname, '..', 'dist', 'streams', 'streams.js'));
const { echoAsync, echoGenerator } = require('./echo-clients');

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
}
const ALL = ['protocol', 'promise', 'future', 'async', 'future-gen', 'streams'];
const variants = option('--variants', ALL.join(',')).split(',');
const CONNS = Number(option('--conns', 64));
const ROUNDS = Number(option('--rounds', 7));
const PASSES = Number(option('--passes', 3000));
if (variants.some((v) => !ALL.includes(v)) || !(CONNS >= 1) || !(ROUNDS >= 1) || !(PASSES >= 1)) {
  console.error(`usage: node bench/echo-layers.js [--variants ${ALL.join(',')}] [--conns 64] [--rounds 7] [--passes 3000]`);
  process.exit(2);
}

// The transport stand-in: enough of the Transport interface for StreamReaderProtocol.
class Sink {
  writes = 0;
  write() {
    this.writes++;
  }
  isClosing() {
    return false;
  }
  pauseReading() {}
  resumeReading() {}
  close() {}
  getExtraInfo() {
    return undefined;
  }
}

class EchoProtocol {
  connectionMade(transport) {
    this.transport = transport;
  }
  dataReceived(data) {
    this.transport.write(data);
  }
}

// The least a reader can be: one pending read, settled by the next chunk.
class PromiseReader {
  #resolve = null;
  get waiting() {
    return this.#resolve !== null;
  }
  read() {
    return new Promise((resolve) => {
      this.#resolve = resolve;
    });
  }
  feed(data) {
    const resolve = this.#resolve;
    this.#resolve = null;
    resolve(data);
  }
}

class FutureReader {
  #loop;
  #waiter = null;
  constructor(loop) {
    this.#loop = loop;
  }
  read() {
    return (this.#waiter = this.#loop.createFuture());
  }
  get waiting() {
    return this.#waiter !== null;
  }
  feed(data) {
    const waiter = this.#waiter;
    this.#waiter = null;
    waiter.setResult(data);
  }
}

// A handler over a bare reader; its writer's drain() is settled, as a writer's is under its mark.
class BareProtocol {
  constructor(variant, loop) {
    this.variant = variant;
    this.loop = loop;
  }
  connectionMade(transport) {
    const native = this.variant === 'promise';
    this.reader = native ? new PromiseReader() : new FutureReader(this.loop);
    let drained = Promise.resolve();
    if (!native) {
      drained = this.loop.createFuture();
      drained.setResult(undefined);
    }
    const writer = { write: (data) => transport.write(data), drain: () => drained, close() {} };
    if (native) echoAsync(this.reader, writer);
    else this.loop.createTask(() => (this.variant === 'future' ? echoAsync : echoGenerator)(this.reader, writer));
  }
  dataReceived(data) {
    this.reader.feed(data);
  }
}

function makeProtocol(variant, loop) {
  switch (variant) {
    case 'protocol':
      return new EchoProtocol();
    case 'async':
    case 'streams':
      return new StreamReaderProtocol(new StreamReader({ loop }), variant === 'async' ? echoAsync : echoGenerator, loop);
    default:
      return new BareProtocol(variant, loop);
  }
}

function once(variant) {
  return run(function* () {
    const loop = getRunningLoop();
    const protocols = [];
    const sinks = [];
    for (let i = 0; i < CONNS; i++) {
      const protocol = makeProtocol(variant, loop);
      const sink = new Sink();
      protocol.connectionMade(sink);
      protocols.push(protocol);
      sinks.push(sink);
    }
    // The handlers start and wait in their first read.
    const ready = (p) => p.reader === undefined || p.reader.waiting;
    for (let i = 0; i < 100 && !protocols.every(ready); i++) yield* sleep(0);
    yield* sleep(0);
    // Chunks are views of one slab, as the transports hand them over.
    const slab = Buffer.alloc(64 * CONNS, 1);
    const done = loop.createFuture();
    const WARM = 200;
    let pass = 0;
    let cpu0 = null;
    // One loop callback per pass feeds every connection; the next is queued from a Node
    // immediate once every chunk has been echoed (the wake-ups may take a loop pass of their
    // own, which can itself wait for an immediate), so each pass finds every handler waiting.
    const echoed = () => {
      let n = 0;
      for (const sink of sinks) n += sink.writes;
      return n;
    };
    const next = () => {
      if (echoed() < pass * CONNS) setImmediate(next);
      else loop.callSoon(feed);
    };
    function feed() {
      if (pass === WARM) cpu0 = process.cpuUsage();
      if (pass === WARM + PASSES) {
        const used = process.cpuUsage(cpu0);
        done.setResult(((used.user + used.system) * 1000) / (PASSES * CONNS));
        return;
      }
      pass++;
      for (let i = 0; i < CONNS; i++) protocols[i].dataReceived(slab.subarray(64 * i, 64 * i + 64));
      setImmediate(next);
    }
    loop.callSoon(feed);
    const nsPerMessage = yield* done;

    return nsPerMessage;
  });
}

const median = (xs) => {
  const v = [...xs].sort((a, b) => a - b);
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};

(async () => {
  const results = variants.map(() => []);
  for (let r = 0; r < ROUNDS; r++) {
    const order = variants.map((_, i) => i);
    if (r % 2) order.reverse();
    for (const i of order) results[i].push(await once(variants[i]));
  }
  console.log(`${CONNS} connection(s), ${ROUNDS} rounds × ${PASSES} passes: JS CPU ns per message (paired median difference vs ${variants[0]})`);
  variants.forEach((variant, i) => {
    const diff = results[i].map((x, r) => x - results[0][r]);
    console.log(`  ${variant.padEnd(11)} ${median(results[i]).toFixed(0).padStart(5)}   ${i === 0 ? '' : `+${median(diff).toFixed(0)}`}`);
  });
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
