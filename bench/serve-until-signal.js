'use strict';
// The floor servers' main: listen with a protocol factory on 127.0.0.1, print the port taken
// ("listening on 127.0.0.1:PORT (label)", what the rigs wait for), serve until SIGINT/SIGTERM.
const { run, getRunningLoop } = require('evloop');

function serveUntilSignal(makeProtocol, port, label) {
  run(function* main() {
    const loop = getRunningLoop();
    const server = yield* loop.createServer(makeProtocol, '127.0.0.1', port, { backlog: 1024 });
    console.log(`listening on 127.0.0.1:${server.address().port} (${label})`);
    const stopped = loop.createFuture();
    for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => stopped.setResult(signal));
    yield* stopped;
    server.close();
  }).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}

module.exports = { serveUntilSignal };
