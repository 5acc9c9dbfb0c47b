'use strict';
// Lifecycle edges of transports and servers: races between cancellation and completion, a loop
// closed with connections open, errors that must stay local. Each found by review, each pinned.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { run, sleep, getRunningLoop, Protocol, DatagramProtocol, openConnection, StreamReaderProtocol } = require('evloop');
const { binding } = require('evloop/internal');

const openFds = () => fs.readdirSync('/proc/self/fd').length;

/** Lets the loop run `n` passes: for outcomes that are settled by callbacks already scheduled. */
async function passes(n) {
  for (let i = 0; i < n; i++) await sleep(0);
}

test('a localAddr that cannot be bound fails the connection and leaks no fd', async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const server = await loop.createServer(() => new Protocol(), '127.0.0.1', 0, { reuseAddress: false });
    const port = server.address().port;
    const before = openFds();
    for (let i = 0; i < 5; i++) {
      await assert.rejects(loop.createConnection(() => new Protocol(), '127.0.0.1', port, { localAddr: ['127.0.0.1', port] }), { code: 'EADDRINUSE' });
    }
    assert.equal(openFds(), before);
    server.close();
  });
});

test('createConnection cancelled as its connect completes closes the socket once, quietly', async () => {
  // A second close of the fd (or a close of an fd the transport owns) would surface as an EBADF
  // report through the exception handler; a missed close as an fd left open.
  const before = openFds();
  await run(async () => {
    const loop = getRunningLoop();
    const reported = [];
    loop.setExceptionHandler((_loop, context) => reported.push(`${context.message}: ${context.exception?.code}`));
    const server = await loop.createServer(() => new Protocol(), '127.0.0.1', 0);
    let connecting;
    const addWriter = loop.addWriter;
    // The connect-in-progress writer: cancel the future in the same pass, just before it runs.
    loop.addWriter = function (fd, cb, ...args) {
      loop.addWriter = addWriter;
      return addWriter.call(this, fd, () => {
        connecting.cancel();
        cb();
      }, ...args);
    };
    connecting = loop.createConnection(() => new Protocol(), '127.0.0.1', server.address().port);
    await assert.rejects(connecting, { name: 'CancelledError' });
    await passes(3);
    assert.deepEqual(reported, []);
    server.close();
    await server.waitClosed();
  });
  assert.equal(openFds(), before);
});

test('openConnection cancelled after the connection was made closes that connection', async () => {
  const connectionMade = StreamReaderProtocol.prototype.connectionMade;
  try {
    await run(async () => {
      const loop = getRunningLoop();
      const serverLost = loop.createFuture();
      const server = await loop.createServer(() => ({ connectionLost: () => serverLost.setResult(true) }), '127.0.0.1', 0);
      let opening;
      // Cancel between the connect's completion and openConnection's own callback.
      StreamReaderProtocol.prototype.connectionMade = function (transport) {
        connectionMade.call(this, transport);
        loop.callSoon(() => loop.callSoon(() => opening.cancel()));
      };
      opening = openConnection('127.0.0.1', server.address().port);
      await assert.rejects(opening, { name: 'CancelledError' });
      assert.equal(await serverLost, true, 'the server saw the connection closed');
      server.close();
    });
  } finally {
    StreamReaderProtocol.prototype.connectionMade = connectionMade;
  }
});

test('closing the loop with servers and connections still open closes their fds', async () => {
  const before = openFds();
  let leftOpen;
  await run(async () => {
    const loop = getRunningLoop();
    const accepted = loop.createFuture();
    const server = await loop.createServer(() => ({ connectionMade: () => accepted.setResult() }), '127.0.0.1', 0);
    const [transport] = await loop.createConnection(() => new Protocol(), '127.0.0.1', server.address().port);
    const [udp] = await loop.createDatagramEndpoint(() => new DatagramProtocol(), { localAddr: ['127.0.0.1', 0] });
    await accepted;
    leftOpen = { server, transport, udp };
    assert.ok(openFds() >= before + 4);
  });
  assert.equal(openFds(), before, 'run() closed the loop and with it every fd');
  // Closing them afterwards is harmless.
  leftOpen.transport.close();
  leftOpen.udp.close();
  leftOpen.server.close();
});

test('a timer beyond 2^31-1 ms neither fires early nor makes Node warn or spin', async () => {
  const warnings = [];
  const onWarning = (w) => warnings.push(w.name);
  process.on('warning', onWarning);
  try {
    await run(async () => {
      const loop = getRunningLoop();
      let fired = false;
      loop.callLater(3e9, () => (fired = true));
      await sleep(30);
      assert.equal(fired, false);
    });
  } finally {
    process.off('warning', onWarning);
  }
  assert.deepEqual(warnings.filter((w) => w === 'TimeoutOverflowWarning'), []);
});

test('a datagram the kernel refuses (EMSGSIZE) goes to errorReceived; the endpoint stays open', async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const errors = [];
    const got = loop.createFuture();
    const [receiver] = await loop.createDatagramEndpoint(() => ({ datagramReceived: (d) => got.setResult(String(d)) }), { localAddr: ['127.0.0.1', 0] });
    const [sender] = await loop.createDatagramEndpoint(() => ({ errorReceived: (e) => errors.push(e.code) }), { localAddr: ['127.0.0.1', 0] });
    const to = receiver.getExtraInfo('sockname');
    sender.sendto(Buffer.alloc(70000), to);
    assert.deepEqual(errors, ['EMSGSIZE']);
    assert.equal(sender.isClosing(), false);
    sender.sendto(Buffer.from('still here'), to);
    assert.equal(await got, 'still here');
    sender.close();
    receiver.close();
  });
});

test('write() copies what it must queue: reusing the buffer afterwards changes nothing sent', async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const chunks = [];
    const done = loop.createFuture();
    const server = await loop.createServer(() => ({ dataReceived: (d) => chunks.push(d), eofReceived: () => done.setResult(Buffer.concat(chunks)) }), '127.0.0.1', 0);
    const [transport] = await loop.createConnection(() => new Protocol(), '127.0.0.1', server.address().port);
    const buf = Buffer.alloc(8 * 1024 * 1024, 0x61);
    transport.write(buf);
    assert.ok(transport.getWriteBufferSize() > 0, 'part of it had to wait');
    buf.fill(0x62);
    transport.writeEof();
    const got = await done;
    assert.equal(got.length, buf.length);
    assert.equal(got.indexOf(0x62), -1, 'only the bytes as they were at write()');
    transport.close();
    server.close();
  });
});

test('resumeReading after the peer EOF does not deliver eofReceived again', async () => {
  await run(async () => {
    const loop = getRunningLoop();
    let eofs = 0;
    const eof = loop.createFuture();
    let serverTransport;
    const server = await loop.createServer(
      () => ({
        connectionMade: (t) => (serverTransport = t),
        eofReceived: () => {
          eofs++;
          eof.setResult();
          return true; // keep the write side open
        },
      }),
      '127.0.0.1',
      0,
    );
    const [transport] = await loop.createConnection(() => new Protocol(), '127.0.0.1', server.address().port);
    transport.writeEof();
    await eof;
    serverTransport.resumeReading();
    assert.equal(serverTransport.isReading(), false);
    await passes(5);
    assert.equal(eofs, 1);
    serverTransport.close();
    transport.close();
    server.close();
  });
});

test('a protocolFactory that closes its server stops the accept loop without errors', async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const reported = [];
    loop.setExceptionHandler((_loop, context) => reported.push(context.message));
    let server;
    let made = 0;
    server = await loop.createServer(
      () => {
        made++;
        server.close();
        return { connectionMade: (t) => t.close() }; // so that waitClosed can finish
      },
      '127.0.0.1',
      0,
      { backlog: 16 },
    );
    const port = server.address().port;
    // Three connections queued in the backlog before the loop accepts any of them.
    const fds = [0, 1, 2].map(() => {
      const fd = binding.socket('inet', 'stream');
      binding.connect(fd, '127.0.0.1', port);
      return fd;
    });
    await server.waitClosed();
    assert.equal(made, 1);
    assert.deepEqual(reported, []);
    for (const fd of fds) binding.close(fd);
  });
});
