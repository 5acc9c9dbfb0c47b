'use strict';
// An evloop echo server and clients in one process, on 127.0.0.1.
// The server uses the streams API with a generator coroutine per client; one client uses
// streams with async/await, one the protocol API; a third part shows cancellation and status.
const { run, getRunningLoop, startServer, openConnection, Protocol, gather, waitFor, sleep, TimeoutError, Status } = require('..');

function* handleClient(reader, writer) {
  const peer = writer.getExtraInfo('peername');
  for (;;) {
    const line = yield* reader.readLine();
    if (line.length === 0) break; // EOF
    writer.write(Buffer.from(`echo: ${line}`));
    yield* writer.drain();
  }
  console.log(`  server: ${peer.address}:${peer.port} said goodbye`);
  writer.close();
}

async function streamsClient(port) {
  const [reader, writer] = await openConnection('127.0.0.1', port);
  for (const text of ['hello, evloop', 'asyncio, for Node.js']) {
    writer.write(Buffer.from(text + '\n'));
    console.log(`  streams client: sent ${JSON.stringify(text)}, got ${JSON.stringify(String(await reader.readLine()).trimEnd())}`);
  }
  writer.writeEof();
  await reader.read(); // the server closes after our EOF
  writer.close();
  await writer.waitClosed();
}

class BulkClient extends Protocol {
  constructor(loop, size) {
    super();
    this.size = size;
    this.received = 0;
    this.done = loop.createFuture();
  }
  connectionMade(transport) {
    const payload = Buffer.alloc(this.size, 'x');
    payload[this.size - 1] = 0x0a; // one long line
    transport.write(payload);
    transport.writeEof();
  }
  dataReceived(data) {
    this.received += data.length;
  }
  connectionLost(err) {
    if (err) this.done.setException(err);
    else this.done.setResult(this.received);
  }
}

run(async () => {
  const loop = getRunningLoop();
  const server = await startServer(handleClient, '127.0.0.1', 0, { limit: 4 * 1024 * 1024 });
  const { port } = server.address();
  console.log(`evloop echo server on 127.0.0.1:${port} (${loop.backend} backend)`);

  const size = 1024 * 1024;
  const [, [, bulk]] = await gather(streamsClient(port), loop.createConnection(() => new BulkClient(loop, size), '127.0.0.1', port));
  const echoed = await bulk.done;
  console.log(`  protocol client: sent a ${size}-byte line, got ${echoed} bytes back (${'echo: '.length} for the prefix)`);

  const slow = loop.createTask((function* () {
    yield* sleep(10_000);
  })(), { name: 'slow' });
  try {
    await waitFor(slow, 50);
  } catch (err) {
    if (!(err instanceof TimeoutError)) throw err;
    console.log(`  waitFor: gave up after 50 ms; task status ${slow.status} (${slow.status === Status.CANCELLED ? 'cancelled' : '?'})`);
  }

  server.close();
  await server.waitClosed();
  console.log('done');
}).catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
