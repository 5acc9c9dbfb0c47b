'use strict';
// The TLS echo servers of bench/tls.js, one per process: evloop (a Protocol over TLS) or Node's
// `tls`. The key and certificate come in the environment (EVLOOP_BENCH_KEY / _CERT, PEM).
// usage: node bench/tls-echo-server.js --impl evloop|node --port N; prints "listening on 127.0.0.1:PORT".
const tls = require('node:tls');
const { run, getRunningLoop } = require('../dist/index.js');

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
}
const impl = option('--impl', 'evloop');
const port = Number(option('--port', '0'));
const credentials = { key: process.env.EVLOOP_BENCH_KEY, cert: process.env.EVLOOP_BENCH_CERT };

if (impl === 'node') {
  const server = tls.createServer(credentials, (socket) => {
    socket.setNoDelay(true);
    socket.on('data', (d) => socket.write(d));
    socket.on('error', () => {});
  });
  server.listen({ port, host: '127.0.0.1', backlog: 1024 }, () => console.log(`listening on 127.0.0.1:${server.address().port}`));
} else {
  class EchoProtocol {
    connectionMade(transport) {
      this.transport = transport;
    }
    dataReceived(data) {
      this.transport.write(data);
    }
  }
  run(function* () {
    const loop = getRunningLoop();
    const server = yield* loop.createServer(() => new EchoProtocol(), '127.0.0.1', port, { backlog: 1024, tls: credentials });
    console.log(`listening on 127.0.0.1:${server.address().port}`);
    const stopped = loop.createFuture();
    for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => stopped.setResult(signal));
    yield* stopped;
    server.close();
  });
}
