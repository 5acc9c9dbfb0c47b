'use strict';
// A server that shuts down cleanly on SIGINT or SIGTERM: stop accepting, ask the clients to
// close (queued replies are flushed first), give them a deadline, abort the rest, exit 0.
// usage: node examples/graceful-shutdown.js [port]   (prints "listening on 127.0.0.1:PORT")
const { run, getRunningLoop, Protocol, waitFor, TimeoutError } = require('evloop');

const DEADLINE_MS = 2000;

class Echo extends Protocol {
  connectionMade(transport) { this.transport = transport; }
  dataReceived(data) { this.transport.write(data); }
  // Back-pressure: a client that does not read stops being read.
  pauseWriting() { this.transport.pauseReading(); }
  resumeWriting() { this.transport.resumeReading(); }
}

run(async () => {
  const loop = getRunningLoop();
  const stop = loop.createFuture();
  const onSignal = (signal) => { if (!stop.done()) stop.setResult(signal); };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);

  const server = await loop.createServer(() => new Echo(), '127.0.0.1', Number(process.argv[2] ?? 0));
  console.log(`listening on 127.0.0.1:${server.address().port}`);
  const signal = await stop;

  server.close();                 // 1. stop accepting
  server.closeClients();          // 2. each client: flush what is queued, then close
  try {
    await waitFor(server.waitClosed(), DEADLINE_MS);   // 3. ... within the deadline
  } catch (err) {
    if (!(err instanceof TimeoutError)) throw err;
    server.abortClients();        // 4. whoever is still there is cut off
  }
  process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  console.log(`${signal}: stopped`);
}).catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
