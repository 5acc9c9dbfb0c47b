'use strict';
// The evloop echo server for ../shared/bench/run.sh, on the public API.
// usage: node bench/echo-server.js --port N [--api protocol|streams] [--backend auto|epoll|poll|select]
//   --api protocol (default): a Protocol whose dataReceived writes the chunk straight back.
//   --api streams: startServer with a generator coroutine per client: read, write, drain.
// --port 0 picks a free port; the chosen one is printed as "listening on 127.0.0.1:PORT".
const { run, getRunningLoop, startServer } = require('../dist/index.js');

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
}
const port = Number(option('--port', NaN));
const api = option('--api', 'protocol');
const backend = option('--backend', 'auto');
if (!Number.isInteger(port) || port < 0 || port > 65535 || !['protocol', 'streams'].includes(api)) {
  console.error('usage: node bench/echo-server.js --port N [--api protocol|streams] [--backend auto|epoll|poll|select]');
  process.exit(2);
}

class EchoProtocol {
  connectionMade(transport) {
    this.transport = transport;
  }
  dataReceived(data) {
    this.transport.write(data);
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

function* main() {
  const loop = getRunningLoop();
  const server =
    api === 'protocol'
      ? yield* loop.createServer(() => new EchoProtocol(), '127.0.0.1', port, { backlog: 1024 })
      : yield* startServer(echoClient, '127.0.0.1', port, { backlog: 1024 });
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
