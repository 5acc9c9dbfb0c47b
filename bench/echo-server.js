'use strict';
// The evloop echo server of the echo rig (`npm run bench:echo`, bench/echo/run.js), on the
// public API only.
// usage: node bench/echo-server.js --port N [--api protocol|buffered|streams|async] [--backend auto|epoll|poll|select]
//   --api protocol (default): a Protocol whose dataReceived writes the chunk straight back.
//   --api buffered: a BufferedProtocol (asyncio's getBuffer/bufferUpdated): reads land in one
//     buffer per connection that the protocol reuses, instead of fresh memory per read.
//   --api streams: startServer with a generator coroutine per client: read, write, drain.
//   --api async: the same client handler as an async function (await read, write, await drain).
// --port 0 picks a free port; the chosen one is printed as "listening on 127.0.0.1:PORT".
// Every variant applies back-pressure: a client that sends without reading its replies stops
// being read, instead of growing the server's write buffer without bound.
const { run, getRunningLoop, startServer } = require('evloop');

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
}
const port = Number(option('--port', NaN));
const api = option('--api', 'protocol');
const backend = option('--backend', 'auto');
if (!Number.isInteger(port) || port < 0 || port > 65535 || !['protocol', 'buffered', 'streams', 'async'].includes(api)) {
  console.error('usage: node bench/echo-server.js --port N [--api protocol|buffered|streams|async] [--backend auto|epoll|poll|select]');
  process.exit(2);
}

class EchoProtocol {
  connectionMade(transport) {
    this.transport = transport;
  }
  dataReceived(data) {
    this.transport.write(data);
  }
  // The transport calls these when its write buffer crosses the high / low water marks: a
  // client that does not read what it is sent stops being read, so the server holds at most
  // the high-water mark for it, not everything it sends.
  pauseWriting() {
    this.transport.pauseReading();
  }
  resumeWriting() {
    this.transport.resumeReading();
  }
}

// The transport copies whatever the kernel does not take at once, so the buffer is free again
// when write() returns.
class BufferedEchoProtocol extends EchoProtocol {
  connectionMade(transport) {
    super.connectionMade(transport);
    this.buffer = Buffer.allocUnsafe(256 * 1024);
  }
  getBuffer() {
    return this.buffer;
  }
  bufferUpdated(n) {
    this.transport.write(this.buffer.subarray(0, n));
  }
}

function* echoClient(reader, writer) {
  for (;;) {
    const data = yield* reader.read(256 * 1024);
    if (data.length === 0) break;
    writer.write(data);
    yield* writer.drain();
  }
  writer.close();
}

// What most Node code looks like: an async function. `await writer.drain()` is the
// back-pressure: it waits only while the writer's buffer is over its high-water mark.
async function echoClientAsync(reader, writer) {
  for (;;) {
    const data = await reader.read(256 * 1024);
    if (data.length === 0) break;
    writer.write(data);
    await writer.drain();
  }
  writer.close();
}

const handlers = { streams: echoClient, async: echoClientAsync };

function* main() {
  const loop = getRunningLoop();
  const server =
    api === 'protocol' || api === 'buffered'
      ? yield* loop.createServer(() => (api === 'buffered' ? new BufferedEchoProtocol() : new EchoProtocol()), '127.0.0.1', port, { backlog: 1024 })
      : yield* startServer(handlers[api], '127.0.0.1', port, { backlog: 1024 });
  console.log(`listening on 127.0.0.1:${server.address().port} (${api} api)`);
  const stopped = loop.createFuture();
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => stopped.setResult(signal));
  yield* stopped;
  server.close();
}

run(main, { backend }).catch((err) => {
  console.error(err);
  process.exit(1);
});
