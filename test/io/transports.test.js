'use strict';
// The transport and protocol contract (asyncio's selector_events / protocols / transports),
// over real sockets on 127.0.0.1, ::1 and a Unix path.
const { test, describe } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { run, sleep, getRunningLoop, Protocol, BufferedProtocol, DatagramProtocol, availableBackends } = require('evloop');

const openFds = () => fs.readdirSync('/proc/self/fd').length;

/** A protocol that records every call, and can be awaited for the moments tests care about. */
class Recorder extends Protocol {
  constructor(loop, { onData, keepOpenOnEof = false } = {}) {
    super();
    this.loop = loop;
    this.calls = [];
    this.chunks = [];
    this.onData = onData;
    this.keepOpenOnEof = keepOpenOnEof;
    this.made = loop.createFuture();
    this.lost = loop.createFuture();
    this.eof = loop.createFuture();
    this.paused = 0;
    this.resumed = 0;
  }
  connectionMade(transport) {
    this.transport = transport;
    this.calls.push('connectionMade');
    this.made.setResult(transport);
  }
  dataReceived(data) {
    if (this.calls.at(-1) !== 'dataReceived') this.calls.push('dataReceived');
    this.chunks.push(Buffer.from(data));
    this.onData?.(data, this.transport);
  }
  eofReceived() {
    this.calls.push('eofReceived');
    this.eof.setResult(Buffer.concat(this.chunks));
    return this.keepOpenOnEof;
  }
  connectionLost(err) {
    this.calls.push('connectionLost');
    if (this.lost.done()) throw new Error('connectionLost called twice');
    this.lost.setResult(err);
  }
  pauseWriting() {
    this.paused++;
  }
  resumeWriting() {
    this.resumed++;
  }
  received() {
    return Buffer.concat(this.chunks);
  }
}

/** A server whose accepted connections each get a Recorder; `accepted` yields them in order. */
async function recordingServer(loop, opts = {}, host = '127.0.0.1') {
  const accepted = [];
  const waiting = [];
  const server = await loop.createServer(
    () => {
      const proto = new Recorder(loop, opts);
      const w = waiting.shift();
      if (w) w.setResult(proto);
      else accepted.push(proto);
      return proto;
    },
    host,
    0,
  );
  const nextConnection = () => {
    if (accepted.length) return accepted.shift();
    const fut = loop.createFuture();
    waiting.push(fut);
    return fut;
  };
  return { server, nextConnection, port: server.address().port };
}

for (const backend of availableBackends()) {
  describe(`transports (${backend})`, () => {
    test('protocol callbacks run in order: made, data, eof, lost exactly once', async () => {
      const before = openFds();
      await run(async () => {
        const loop = getRunningLoop();
        const { server, nextConnection, port } = await recordingServer(loop, { onData: (d, t) => t.write(d) });
        const [transport, client] = await loop.createConnection(() => new Recorder(loop), '127.0.0.1', port);
        assert.equal(client.transport, transport);
        const serverSide = await nextConnection();
        await serverSide.made;
        transport.write(Buffer.from('hello '));
        transport.writelines([Buffer.from('evloop'), new Uint8Array([33])]);
        transport.writeEof();
        const echoedBeforeEof = await serverSide.eof;
        assert.equal(echoedBeforeEof.toString(), 'hello evloop!');
        assert.equal(await serverSide.lost, null);
        await client.eof;
        assert.equal(client.received().toString(), 'hello evloop!');
        assert.equal(await client.lost, null);
        assert.deepEqual(serverSide.calls, ['connectionMade', 'dataReceived', 'eofReceived', 'connectionLost']);
        assert.deepEqual(client.calls, ['connectionMade', 'dataReceived', 'eofReceived', 'connectionLost']);
        server.close();
        await server.waitClosed();
      }, { backend });
      assert.equal(openFds(), before, 'no fd leaked');
    });

    test('writelines goes out in one writev; what the kernel does not take is queued in order, copied', async () => {
      await run(async () => {
        const loop = getRunningLoop();
        const { server, nextConnection, port } = await recordingServer(loop);
        const [transport, client] = await loop.createConnection(() => new Recorder(loop), '127.0.0.1', port);
        const serverSide = await nextConnection();
        // 8 MiB in 32 chunks: more than the socket buffers take, so the writev is partial.
        const chunks = Array.from({ length: 32 }, (_, i) => Buffer.alloc(256 * 1024, i));
        const expected = Buffer.concat(chunks);
        transport.writelines(chunks);
        assert.ok(transport.getWriteBufferSize() > 0);
        assert.equal(client.paused, 1);
        for (const c of chunks) c.fill(0xff); // the caller may reuse its buffers at once
        transport.close();
        assert.equal(await serverSide.lost, null);
        assert.ok(serverSide.received().equals(expected));
        await client.lost;
        server.close();
      }, { backend });
    });

    test('a truthy eofReceived keeps the transport open for writing (half-close)', async () => {
      await run(async () => {
        const loop = getRunningLoop();
        const { server, nextConnection, port } = await recordingServer(loop, { keepOpenOnEof: true });
        const [transport, client] = await loop.createConnection(() => new Recorder(loop), '127.0.0.1', port);
        const serverSide = await nextConnection();
        transport.write(Buffer.from('question'));
        transport.writeEof();
        assert.equal((await serverSide.eof).toString(), 'question');
        assert.equal(serverSide.transport.isClosing(), false);
        serverSide.transport.write(Buffer.from('answer after your EOF'));
        serverSide.transport.close();
        assert.equal((await client.eof).toString(), 'answer after your EOF');
        assert.equal(await client.lost, null);
        assert.equal(await serverSide.lost, null);
        assert.equal(transport.isClosing(), true);
        server.close();
      }, { backend });
    });

    test('close() flushes what is buffered first; every byte arrives in order', async () => {
      await run(async () => {
        const loop = getRunningLoop();
        const payload = Buffer.alloc(8 * 1024 * 1024);
        for (let i = 0; i < payload.length; i += 4) payload.writeUInt32LE(i, i);
        const { server, nextConnection, port } = await recordingServer(loop);
        const [, client] = await loop.createConnection(() => new Recorder(loop), '127.0.0.1', port);
        const serverSide = await nextConnection();
        await serverSide.made;
        serverSide.transport.write(payload);
        assert.ok(serverSide.transport.getWriteBufferSize() > 0, '8 MiB does not fit in the socket buffer at once');
        serverSide.transport.close();
        assert.equal(serverSide.transport.isClosing(), true);
        const got = await client.eof;
        assert.equal(got.length, payload.length);
        assert.ok(got.equals(payload), 'bytes intact and in order');
        assert.equal(await serverSide.lost, null);
        server.close();
      }, { backend });
    });

    test('abort() drops what is buffered and reports connectionLost(null) at once', async () => {
      await run(async () => {
        const loop = getRunningLoop();
        const { server, nextConnection, port } = await recordingServer(loop);
        const [, client] = await loop.createConnection(() => new Recorder(loop), '127.0.0.1', port);
        const serverSide = await nextConnection();
        await serverSide.made;
        serverSide.transport.write(Buffer.alloc(8 * 1024 * 1024));
        assert.ok(serverSide.transport.getWriteBufferSize() > 0);
        serverSide.transport.abort();
        assert.equal(serverSide.transport.getWriteBufferSize(), 0);
        assert.equal(await serverSide.lost, null);
        const clientErr = await client.lost;
        assert.ok(clientErr === null || clientErr.code === 'ECONNRESET', `client saw ${clientErr}`);
        assert.ok(client.received().length < 8 * 1024 * 1024, 'the buffered bytes were dropped');
        server.close();
      }, { backend });
    });

    test('pauseWriting at the high-water mark, resumeWriting below the low one', async () => {
      await run(async () => {
        const loop = getRunningLoop();
        const { server, nextConnection, port } = await recordingServer(loop);
        const [transport, client] = await loop.createConnection(() => new Recorder(loop), '127.0.0.1', port);
        const serverSide = await nextConnection();
        await serverSide.made;
        serverSide.transport.pauseReading();
        assert.equal(serverSide.transport.isReading(), false);
        transport.setWriteBufferLimits({ high: 64 * 1024, low: 16 * 1024 });
        assert.deepEqual(transport.getWriteBufferLimits(), [16 * 1024, 64 * 1024]);
        const chunk = Buffer.alloc(64 * 1024, 7);
        let written = 0;
        while (client.paused === 0) {
          transport.write(chunk);
          written += chunk.length;
          assert.ok(written < 256 * 1024 * 1024, 'pauseWriting never came');
        }
        assert.ok(transport.getWriteBufferSize() > 64 * 1024);
        assert.equal(client.resumed, 0);
        const resumed = loop.createFuture();
        client.resumeWriting = () => resumed.setResult(transport.getWriteBufferSize());
        serverSide.transport.resumeReading();
        assert.ok((await resumed) <= 16 * 1024, 'resumed once at or below the low-water mark');
        transport.close();
        assert.equal((await serverSide.eof).length, written, 'everything written arrived');
        server.close();
      }, { backend });
    });

    test('a BufferedProtocol gets the bytes in its own buffer', async () => {
      await run(async () => {
        const loop = getRunningLoop();
        const { server, nextConnection, port } = await recordingServer(loop);
        const own = Buffer.alloc(5);
        const parts = [];
        const done = loop.createFuture();
        class Into extends BufferedProtocol {
          getBuffer(sizeHint) {
            assert.equal(typeof sizeHint, 'number');
            return own;
          }
          bufferUpdated(n) {
            parts.push(own.toString('latin1', 0, n));
          }
          eofReceived() {
            done.setResult(parts.join(''));
          }
        }
        await loop.createConnection(() => new Into(), '127.0.0.1', port);
        const serverSide = await nextConnection();
        await serverSide.made;
        serverSide.transport.write(Buffer.from('a buffered protocol reads at most 5 at a time'));
        serverSide.transport.close();
        assert.equal(await done, 'a buffered protocol reads at most 5 at a time');
        assert.ok(parts.every((p) => p.length <= 5));
        server.close();
      }, { backend });
    });
  });
}

test('getExtraInfo, server.address() and isServing use Node-shaped addresses', async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const { server, nextConnection, port } = await recordingServer(loop);
    assert.deepEqual(server.address(), { address: '127.0.0.1', family: 'IPv4', port });
    assert.equal(server.isServing(), true);
    const [transport] = await loop.createConnection(() => new Recorder(loop), '127.0.0.1', port);
    const serverSide = await nextConnection();
    await serverSide.made;
    assert.deepEqual(transport.getExtraInfo('peername'), { address: '127.0.0.1', family: 'IPv4', port });
    assert.deepEqual(serverSide.transport.getExtraInfo('peername'), transport.getExtraInfo('sockname'));
    assert.equal(typeof transport.getExtraInfo('fd'), 'number');
    assert.equal(transport.getExtraInfo('nonesuch', 'fallback'), 'fallback');
    transport.close();
    await serverSide.lost;
    server.close();
    assert.equal(server.isServing(), false);
    assert.equal(server.address(), null);
  });
});

test('waitClosed waits for the connections the server accepted', async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const { server, nextConnection, port } = await recordingServer(loop);
    const [transport] = await loop.createConnection(() => new Recorder(loop), '127.0.0.1', port);
    const serverSide = await nextConnection();
    await serverSide.made;
    server.close();
    const closed = server.waitClosed();
    await sleep(0); // one pass of the loop: the server must still be waiting
    assert.equal(closed.done(), false, 'a connection is still open');
    transport.close();
    await closed;
    assert.equal(await serverSide.lost, null);
  });
});

test('connecting to a closed port fails with ECONNREFUSED', async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const { server, port } = await recordingServer(loop);
    server.close();
    await assert.rejects(loop.createConnection(() => new Protocol(), '127.0.0.1', port), { code: 'ECONNREFUSED', syscall: 'connect' });
  });
});

test('host names are resolved without blocking the loop (localhost)', async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const { server, nextConnection, port } = await recordingServer(loop, {}, 'localhost');
    const [transport] = await loop.createConnection(() => new Recorder(loop), 'localhost', port);
    const serverSide = await nextConnection();
    await serverSide.made;
    assert.ok(['127.0.0.1', '::1'].includes(transport.getExtraInfo('peername').address));
    transport.close();
    await serverSide.lost;
    server.close();
  });
});

function ipv6Available() {
  const { binding } = require('evloop/internal');
  const fd = binding.socket('inet6', 'stream');
  try {
    binding.bind(fd, '::1', 0);
    return true;
  } catch {
    return false;
  } finally {
    binding.close(fd);
  }
}

test('IPv6 on ::1', { skip: ipv6Available() ? false : 'this machine has no ::1' }, async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const { server, nextConnection, port } = await recordingServer(loop, { onData: (d, t) => t.write(d) }, '::1');
    assert.deepEqual(server.address(), { address: '::1', family: 'IPv6', port });
    const [transport, client] = await loop.createConnection(() => new Recorder(loop), '::1', port);
    transport.write(Buffer.from('six'));
    transport.writeEof();
    assert.equal((await client.eof).toString(), 'six');
    (await nextConnection()).transport.close();
    server.close();
  });
});

test('Unix sockets: createUnixServer and createUnixConnection', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evloop-unix-'));
  const sock = path.join(dir, 'echo.sock');
  try {
    await run(async () => {
      const loop = getRunningLoop();
      const server = await loop.createUnixServer(() => new Recorder(loop, { onData: (d, t) => t.write(d) }), sock);
      assert.equal(server.address().address, sock);
      const [transport, client] = await loop.createUnixConnection(() => new Recorder(loop), sock);
      transport.write(Buffer.from('over a path'));
      transport.writeEof();
      assert.equal((await client.eof).toString(), 'over a path');
      server.close();
      await server.waitClosed();
    });
    assert.equal(fs.existsSync(sock), false, 'the socket file is removed on close');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('UDP: datagrams both ways, addresses as objects or [host, port]', async () => {
  await run(async () => {
    const loop = getRunningLoop();
    class Echo extends DatagramProtocol {
      connectionMade(t) {
        this.t = t;
      }
      datagramReceived(data, addr) {
        this.t.sendto(data, addr);
      }
    }
    const [serverT] = await loop.createDatagramEndpoint(() => new Echo(), { localAddr: ['127.0.0.1', 0] });
    const serverAddr = serverT.getExtraInfo('sockname');
    assert.equal(serverAddr.family, 'IPv4');

    const received = [];
    let wake = loop.createFuture();
    class Client extends DatagramProtocol {
      datagramReceived(data, addr) {
        received.push([data.toString(), addr]);
        wake.setResult();
      }
    }
    const [clientT] = await loop.createDatagramEndpoint(() => new Client(), { localAddr: { address: '127.0.0.1', port: 0 } });
    clientT.sendto(Buffer.from('one'), { address: '127.0.0.1', port: serverAddr.port });
    await wake;
    wake = loop.createFuture();
    clientT.sendto(Buffer.from('two'), ['127.0.0.1', serverAddr.port]);
    await wake;
    assert.deepEqual(received.map(([d]) => d), ['one', 'two']);
    assert.deepEqual(received[0][1], { address: '127.0.0.1', family: 'IPv4', port: serverAddr.port });
    assert.throws(() => clientT.sendto(Buffer.from('x')), { code: 'ERR_MISSING_ARGS' });
    assert.throws(() => clientT.sendto('text', ['127.0.0.1', 1]), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });

    const [connectedT] = await loop.createDatagramEndpoint(() => new Client(), { remoteAddr: ['127.0.0.1', serverAddr.port] });
    wake = loop.createFuture();
    connectedT.sendto(Buffer.from('three'));
    await wake;
    assert.equal(received[2][0], 'three');
    assert.throws(() => connectedT.sendto(Buffer.from('x'), ['127.0.0.1', 1]), { code: 'ERR_INVALID_ARG_VALUE' });
    for (const t of [serverT, clientT, connectedT]) t.close();
  });
});

test('bad arguments are TypeErrors, checked before any socket is made', async () => {
  const before = openFds();
  await run(async () => {
    const loop = getRunningLoop();
    assert.throws(() => loop.createConnection(() => new Protocol(), 42, 80), { name: 'TypeError' });
    assert.throws(() => loop.createConnection(() => new Protocol(), '127.0.0.1', 70000), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => loop.createConnection('not a factory', '127.0.0.1', 80), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => loop.createServer(() => new Protocol(), '127.0.0.1', -1), { name: 'RangeError' });
    assert.throws(() => loop.createServer(() => new Protocol(), '127.0.0.1', 0, { backlog: 'many' }), { name: 'TypeError' });
    const { server, nextConnection, port } = await recordingServer(loop);
    const [transport] = await loop.createConnection(() => new Recorder(loop), '127.0.0.1', port);
    assert.throws(() => transport.write('a string'), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => transport.setWriteBufferLimits({ high: 1, low: 2 }), { name: 'RangeError' });
    transport.writeEof();
    assert.throws(() => transport.write(Buffer.from('late')), { code: 'ERR_STREAM_WRITE_AFTER_END' });
    transport.close();
    await (await nextConnection()).lost;
    server.close();
  });
  assert.equal(openFds(), before);
});

test('a server given a logger logs serving and closing at info through it', async () => {
  const { createLogger } = require('evloop');
  const lines = [];
  const logger = createLogger({ level: 'info', sink: (line, level) => lines.push([level, line]) });
  await run(async () => {
    const loop = getRunningLoop();
    const server = await loop.createServer(() => new Protocol(), '127.0.0.1', 0, { logger });
    const { port } = server.address();
    server.close();
    assert.equal(lines.length, 2);
    assert.deepEqual(lines.map(([level]) => level), ['info', 'info']);
    assert.match(lines[0][1], new RegExp(`serving, 127\\.0\\.0\\.1:${port}: server$`));
    assert.match(lines[1][1], new RegExp(`server closed, 127\\.0\\.0\\.1:${port}: server$`));
  });
});
