'use strict';
// Stream transports' small writes go out together when the pass ends (one native sendBatch,
// lib/core/loop.ts's _queueSend), or, made outside a pass (an async function), in a microtask:
// every byte arrives once and in order, across
// connections and mixed with direct sends; a batch the kernel takes only in part is queued
// (back-pressure); close, writeEof and abort in the same pass lose nothing and leak no fd.
// Real sockets on 127.0.0.1, every backend.
const { test, describe } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const { run, getRunningLoop, newEventLoop, Protocol, availableBackends } = require('evloop');
const { binding } = require('evloop/internal');

const openFds = () => fs.readdirSync('/proc/self/fd').length;

class Sink extends Protocol {
  constructor(loop) {
    super();
    this.chunks = [];
    this.made = loop.createFuture();
    this.lost = loop.createFuture();
    this.eof = loop.createFuture();
    this.paused = 0;
    this.resumed = 0;
  }
  connectionMade(transport) {
    this.transport = transport;
    this.made.setResult(transport);
  }
  dataReceived(data) {
    this.chunks.push(Buffer.from(data));
  }
  eofReceived() {
    this.eof.setResult(Buffer.concat(this.chunks));
  }
  pauseWriting() {
    this.paused++;
  }
  resumeWriting() {
    this.resumed++;
  }
  connectionLost(err) {
    this.lost.setResult(err ?? null);
  }
}

// `count` connections: [{ server, client }] protocols, each transport made.
async function pairs(loop, count) {
  const servers = [];
  const all = loop.createFuture();
  const server = await loop.createServer(() => {
    const p = new Sink(loop);
    servers.push(p);
    if (servers.length === count) all.setResult();
    return p;
  }, '127.0.0.1', 0);
  const port = server.address().port;
  const clients = [];
  for (let i = 0; i < count; i++) {
    const [, client] = await loop.createConnection(() => new Sink(loop), '127.0.0.1', port);
    clients.push(client);
  }
  await all;
  await Promise.all(servers.map((p) => p.made));
  // Accepted in connection order (one listener, connections made one after another).
  return { server, conns: clients.map((client, i) => ({ client, server: servers[i] })) };
}

/** Closes both ends of every pair, then the server. */
async function closeAll(server, conns) {
  for (const c of conns) {
    c.server.transport.close();
    c.client.transport.close();
  }
  server.close();
  await server.waitClosed();
}

// Runs fn in a loop callback (a pass), where transport writes are batched; resolves after it.
function inPass(loop, fn) {
  const done = loop.createFuture();
  loop.callSoon(() => {
    try {
      done.setResult(fn());
    } catch (err) {
      done.setException(err);
    }
  });
  return done;
}

const pattern = (n, seed) => {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  return b;
};

for (const backend of availableBackends()) {
  describe(`batched sends (${backend})`, () => {
    test('small writes of one pass on many connections, mixed with big ones, arrive whole and in order', async () => {
      const before = openFds();
      await run(async () => {
        const loop = getRunningLoop();
        const { server, conns } = await pairs(loop, 6);
        const expected = conns.map(() => []);
        await inPass(loop, () => {
          // Interleaved across connections; the 10 KiB ones are above the batch limit and go
          // straight out, after the batch's bytes of the same connection.
          for (let round = 0; round < 20; round++) {
            conns.forEach(({ server: s }, i) => {
              const data = pattern(round % 5 === 4 ? 10 * 1024 : 1 + ((round * 13 + i) % 200), round * 10 + i);
              expected[i].push(data);
              s.transport.write(data);
            });
          }
          // Bytes in the batch count as buffered until the pass ends.
          const last = Buffer.from('last');
          expected[0].push(last);
          conns[0].server.transport.write(last);
          assert.equal(conns[0].server.transport.getWriteBufferSize(), last.length);
        });
        for (const { server: s } of conns) assert.equal(s.transport.getWriteBufferSize(), 0);
        for (const { server: s } of conns) s.transport.writeEof();
        const got = await Promise.all(conns.map(({ client }) => client.eof));
        got.forEach((g, i) => assert.ok(g.equals(Buffer.concat(expected[i])), `connection ${i} byte-exact`));
        await closeAll(server, conns);
      }, { backend });
      assert.equal(openFds(), before, 'no fd leaked');
    });

    test('a batch the kernel takes only in part is queued: back-pressure, then every byte in order', async () => {
      await run(async () => {
        const loop = getRunningLoop();
        const { server, conns } = await pairs(loop, 2);
        const [{ server: s, client }, other] = conns;
        binding.setsockopt(s.transport.getExtraInfo('fd'), 'SO_SNDBUF', 4096);
        client.transport.pauseReading();
        const chunks = [];
        await inPass(loop, () => {
          // 4 MiB in 1000-byte writes: far over what the socket buffers take, and the batch
          // buffer fills many times over within the pass.
          for (let i = 0; i < 4096; i++) {
            const data = pattern(1000, i);
            chunks.push(data);
            s.transport.write(data);
            if (i % 64 === 0) other.server.transport.write(Buffer.from([i & 0xff]));
          }
        });
        assert.ok(s.transport.getWriteBufferSize() > 0, 'the rest is queued');
        assert.equal(s.paused, 1, 'pauseWriting once over the high-water mark');
        client.transport.resumeReading();
        s.transport.writeEof();
        const got = await client.eof;
        assert.ok(got.equals(Buffer.concat(chunks)), 'byte-exact, in order');
        assert.equal(s.resumed, 1);
        assert.equal(s.transport.getWriteBufferSize(), 0);
        other.server.transport.writeEof();
        const small = await other.client.eof;
        assert.deepEqual([...small], Array.from({ length: 64 }, (_, k) => (k * 64) & 0xff));
        await closeAll(server, conns);
      }, { backend });
    });

    test('write then close, or write then writeEof, in the same pass: every byte, then EOF', async () => {
      const before = openFds();
      await run(async () => {
        const loop = getRunningLoop();
        const { server, conns } = await pairs(loop, 3);
        const [a, b, c] = conns;
        // c's socket takes little at once, so its batched bytes go short and are queued at close.
        binding.setsockopt(c.server.transport.getExtraInfo('fd'), 'SO_SNDBUF', 4096);
        c.client.transport.pauseReading();
        const big = [];
        await inPass(loop, () => {
          a.server.transport.write(Buffer.from('to a, '));
          a.server.transport.write(Buffer.from('then closed'));
          a.server.transport.close();
          b.server.transport.write(Buffer.from('to b, then EOF'));
          b.server.transport.writeEof();
          for (let i = 0; i < 600; i++) {
            big.push(pattern(1000, i));
            c.server.transport.write(big[i]);
          }
          c.server.transport.close();
        });
        c.client.transport.resumeReading();
        assert.equal((await a.client.eof).toString(), 'to a, then closed');
        assert.equal((await b.client.eof).toString(), 'to b, then EOF');
        assert.ok((await c.client.eof).equals(Buffer.concat(big)), 'closing waits for the queued rest');
        assert.equal(await a.server.lost, null);
        assert.equal(await c.server.lost, null);
        for (const x of conns) x.client.transport.close();
        b.server.transport.close();
        server.close();
        await server.waitClosed();
      }, { backend });
      assert.equal(openFds(), before, 'no fd leaked');
    });

    test('abort after a batched write in the same pass: no error, the connection goes, no fd leaked', async () => {
      const before = openFds();
      await run(async () => {
        const loop = getRunningLoop();
        const errors = [];
        loop.setExceptionHandler((_, ctx) => errors.push(ctx));
        const { server, conns } = await pairs(loop, 1);
        const [{ server: s, client }] = conns;
        await inPass(loop, () => {
          s.transport.write(Buffer.from('maybe'));
          s.transport.abort();
        });
        assert.equal(await s.lost, null);
        await client.lost;
        assert.deepEqual(errors, []);
        server.close();
        await server.waitClosed();
      }, { backend });
      assert.equal(openFds(), before, 'no fd leaked');
    });

    test('a write outside a pass, then abort: the batched bytes never reach a socket that reuses the fd number', async () => {
      await run(async () => {
        const loop = getRunningLoop();
        const { server, conns } = await pairs(loop, 1);
        const [{ server: s, client }] = conns;
        const fd = s.transport.getExtraInfo('fd');
        let reused = null;
        // A pass is queued first; the write's flush microtask comes after it; abort's
        // connectionLost and the socketpair below join that pass, in that order.
        loop.callSoon(() => {});
        s.transport.write(Buffer.from('not for you'));
        s.transport.abort();
        loop.callSoon(() => {
          reused = binding.socketpair('stream');
        });
        await s.lost;
        await client.lost;
        assert.ok(reused !== null);
        const got = reused.map((end) => binding.recv(end, Buffer.alloc(64), 0, 64));
        for (const end of reused) binding.close(end);
        assert.deepEqual(got, [-1, -1], `nothing arrived on the socket that took fd ${fd}`);
        server.close();
        await server.waitClosed();
      }, { backend });
    });

    test('a batched send to a reset peer is connectionLost with the error, not an exception', async () => {
      await run(async () => {
        const loop = getRunningLoop();
        const errors = [];
        loop.setExceptionHandler((_, ctx) => errors.push(ctx));
        const { server, conns } = await pairs(loop, 1);
        const [{ server: s, client }] = conns;
        // The server stops reading, so only its write can learn of the reset.
        s.transport.pauseReading();
        binding.setsockopt(client.transport.getExtraInfo('fd'), 'SO_LINGER', 0);
        client.transport.abort();
        await client.lost;
        await inPass(loop, () => s.transport.write(Buffer.from('into the void')));
        const err = await s.lost;
        assert.ok(['EPIPE', 'ECONNRESET'].includes(err?.code), `got ${err?.code}`);
        assert.equal(err.syscall, 'send');
        assert.deepEqual(errors, []);
        server.close();
        await server.waitClosed();
      }, { backend });
    });

    test('writelines after a batched write of the same pass keeps the order', async () => {
      await run(async () => {
        const loop = getRunningLoop();
        const { server, conns } = await pairs(loop, 1);
        const [{ server: s, client }] = conns;
        await inPass(loop, () => {
          s.transport.write(Buffer.from('1 '));
          s.transport.writelines([Buffer.from('2 '), Buffer.from('3 ')]);
          s.transport.write(Buffer.from('4'));
        });
        s.transport.writeEof();
        assert.equal((await client.eof).toString(), '1 2 3 4');
        await closeAll(server, conns);
      }, { backend });
    });

    test('writes from async functions (outside a pass) arrive whole and in order, mixed with direct ones', async () => {
      await run(async () => {
        const loop = getRunningLoop();
        const { server, conns } = await pairs(loop, 4);
        const expected = conns.map(() => []);
        await Promise.all(conns.map(async ({ server: s }, i) => {
          for (let k = 0; k < 200; k++) {
            const data = pattern(k % 50 === 49 ? 9000 : 1 + ((k * 7 + i) % 300), k + i);
            expected[i].push(data);
            s.transport.write(data);
            if (k % 3 === 0) await null; // another connection's turn
          }
          s.transport.writeEof();
        }));
        const got = await Promise.all(conns.map(({ client }) => client.eof));
        got.forEach((g, i) => assert.ok(g.equals(Buffer.concat(expected[i])), `connection ${i} byte-exact`));
        await closeAll(server, conns);
      }, { backend });
    });

    test('a write made just before loop.close() still reaches the peer before the fd closes', async () => {
      const before = openFds();
      const chunks = [];
      let peerSock;
      const peer = net.createServer((sock) => {
        peerSock = sock;
        sock.on('data', (d) => chunks.push(d));
      });
      await new Promise((resolve) => peer.listen(0, '127.0.0.1', resolve));
      const closed = new Promise((resolve) => peer.once('connection', (sock) => sock.once('close', resolve)));
      const loop = newEventLoop({ backend });
      const [transport] = await loop.runUntilComplete(loop.createConnection(() => new Sink(loop), '127.0.0.1', peer.address().port));
      // Outside any pass, with the loop stopped: the write waits for its microtask, and close()
      // comes first, in the same synchronous run.
      transport.write(Buffer.from('last words'));
      loop.close();
      await closed;
      peer.close();
      assert.equal(Buffer.concat(chunks).toString(), 'last words');
      assert.ok(peerSock);
      assert.equal(openFds(), before, 'no fd leaked');
    });
  });
}
