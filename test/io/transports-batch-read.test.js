'use strict';
// Stream transports read by the poller during the batch (lib/io/transports.ts with the loop's
// auto-reader): what was read for a transport is delivered in order, never after close, kept
// across pause/resume, and survives slab changes. Real sockets on 127.0.0.1, every backend.
const { test, describe } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { run, getRunningLoop, Protocol, BufferedProtocol, availableBackends } = require('evloop');

const openFds = () => fs.readdirSync('/proc/self/fd').length;

class Sink extends Protocol {
  constructor(loop, onData) {
    super();
    this.chunks = [];
    this.onData = onData;
    this.made = loop.createFuture();
    this.lost = loop.createFuture();
    this.eof = loop.createFuture();
  }
  connectionMade(transport) {
    this.transport = transport;
    this.made.setResult(transport);
  }
  dataReceived(data) {
    this.chunks.push(Buffer.from(data));
    this.onData?.(this, data);
  }
  eofReceived() {
    this.eof.setResult(Buffer.concat(this.chunks));
  }
  connectionLost(err) {
    this.lost.setResult(err);
  }
  received() {
    return Buffer.concat(this.chunks);
  }
}

// A server whose first `count` accepted connections get `make(i)`; resolves to their protocols.
async function serverWith(loop, count, make) {
  const protos = [];
  const all = loop.createFuture();
  const server = await loop.createServer(() => {
    const p = make(protos.length);
    protos.push(p);
    if (protos.length === count) all.setResult(protos);
    return p;
  }, '127.0.0.1', 0);
  return { server, port: server.address().port, all };
}

async function connectMany(loop, port, count) {
  const out = [];
  for (let i = 0; i < count; i++) {
    const [transport] = await loop.createConnection(() => new Sink(loop), '127.0.0.1', port);
    out.push(transport);
  }
  return out;
}

for (const backend of availableBackends()) {
  describe(`batch reads (${backend})`, () => {
    test('a transport closed while its read waits in the batch never sees that data', async () => {
      const before = openFds();
      await run(async () => {
        const loop = getRunningLoop();
        // Whichever server side sees data first closes every other one: those were read in the
        // same batch (or will never be read); none of them may get dataReceived.
        let first = null;
        const firstSeen = loop.createFuture();
        const { server, port, all } = await serverWith(loop, 4, () => new Sink(loop, (self) => {
          if (first !== null) return;
          first = self;
          for (const p of protos) if (p !== self) p.transport.close();
          firstSeen.setResult();
        }));
        const clients = await connectMany(loop, port, 4);
        const protos = await all;
        await Promise.all(protos.map((p) => p.made));
        for (const c of clients) c.write(Buffer.from('x'.repeat(100)));
        await firstSeen;
        await Promise.all(protos.filter((p) => p !== first).map((p) => p.lost));
        for (const p of protos) {
          if (p === first) assert.equal(p.received().length, 100);
          else assert.equal(p.chunks.length, 0, 'no data after close');
        }
        first.transport.close();
        for (const c of clients) c.close();
        server.close();
        await server.waitClosed();
      }, { backend });
      assert.equal(openFds(), before, 'no fd leaked');
    });

    test('pauseReading while a read waits in the batch keeps it for resumeReading, in order', async () => {
      await run(async () => {
        const loop = getRunningLoop();
        let first = null;
        const { server, port, all } = await serverWith(loop, 4, () => new Sink(loop, (self) => {
          if (first !== null) return;
          first = self;
          for (const p of protos) if (p !== self) p.transport.pauseReading();
          // The others' data may already be read (same batch): none of it shows before resume.
          loop.callSoon(() => {
            for (const p of protos) {
              if (p === self) continue;
              assert.equal(p.chunks.length, 0, 'nothing delivered while paused');
              assert.equal(p.transport.isReading(), false);
              p.transport.resumeReading();
            }
          });
        }));
        const clients = await connectMany(loop, port, 4);
        const protos = await all;
        await Promise.all(protos.map((p) => p.made));
        const payloads = clients.map((_, i) => Buffer.alloc(1000 + i, 65 + i));
        clients.forEach((c, i) => c.write(payloads[i]));
        // Then more, and EOF: after resume everything arrives once, in order.
        clients.forEach((c, i) => {
          c.write(Buffer.alloc(3, 97 + i));
          c.writeEof();
        });
        const got = await Promise.all(protos.map((p) => p.eof));
        const expected = new Set(payloads.map((p, i) => Buffer.concat([p, Buffer.alloc(3, 97 + i)]).toString('latin1')));
        for (const g of got) assert.ok(expected.delete(g.toString('latin1')), 'every byte once, in order');
        for (const p of protos) p.transport.close();
        for (const c of clients) c.close();
        server.close();
        await server.waitClosed();
      }, { backend });
    });

    test('many MiB over several connections at once arrive byte-exact across slab changes', async () => {
      const before = openFds();
      await run(async () => {
        const loop = getRunningLoop();
        const N = 6;
        const SIZE = 3 * 1024 * 1024 + 17;
        const { server, port, all } = await serverWith(loop, N, () => new Sink(loop, (self, data) => self.transport.write(data)));
        const clients = await connectMany(loop, port, N);
        await all;
        const payloads = clients.map((_, i) => {
          const b = Buffer.allocUnsafe(SIZE);
          for (let j = 0; j < SIZE; j += 4) b.writeUInt32LE((j * 2654435761 + i) >>> 0, Math.min(j, SIZE - 4));
          return b;
        });
        clients.forEach((c, i) => {
          c.write(payloads[i]);
          c.writeEof();
        });
        // Each client's protocol gets its echo; the server side closes at the client's EOF.
        const echoes = await Promise.all(clients.map((c) => c.getProtocol().eof));
        echoes.forEach((e, i) => assert.ok(e.equals(payloads[i]), `connection ${i} intact`));
        for (const c of clients) c.close();
        server.close();
        await server.waitClosed();
      }, { backend });
      assert.equal(openFds(), before, 'no fd leaked');
    });

    test('the views dataReceived gets are plain Buffers that stay intact when kept, across slab changes', async () => {
      await run(async () => {
        const loop = getRunningLoop();
        const SIZE = 2 * 1024 * 1024 + 5;
        const kept = [];
        let plain = true;
        const { server, port, all } = await serverWith(loop, 1, () => ({
          connectionMade(t) { this.transport = t; },
          dataReceived(data) {
            // Kept as handed over, no copy: later reads must land in other memory.
            if (Object.getPrototypeOf(data) !== Buffer.prototype || !Buffer.isBuffer(data)) plain = false;
            kept.push(data);
          },
          eofReceived() { this.transport.close(); },
        }));
        const [client] = await connectMany(loop, port, 1);
        await all;
        const payload = Buffer.allocUnsafe(SIZE);
        for (let j = 0; j < SIZE; j++) payload[j] = (j * 31 + (j >> 9)) & 255;
        client.write(payload);
        client.writeEof();
        await client.getProtocol().lost;
        assert.ok(plain, 'every view has Buffer.prototype');
        assert.ok(kept.length > 1, 'more than one read');
        assert.ok(Buffer.concat(kept).equals(payload), 'the kept views still hold what was read');
        server.close();
        await server.waitClosed();
      }, { backend });
    });

    test('setProtocol to a BufferedProtocol and back keeps the byte stream whole', async () => {
      await run(async () => {
        const loop = getRunningLoop();
        class Buffered extends BufferedProtocol {
          constructor(next) {
            super();
            this.buf = Buffer.alloc(7); // small: a slab view bigger than this is copied in pieces
            this.chunks = [];
            this.next = next;
          }
          getBuffer() {
            return this.buf;
          }
          bufferUpdated(n) {
            this.chunks.push(Buffer.from(this.buf.subarray(0, n)));
            if (Buffer.concat(this.chunks).length >= 50) this.transport.setProtocol(this.next);
          }
        }
        const { server, port, all } = await serverWith(loop, 1, () => new Sink(loop));
        const [client] = await connectMany(loop, port, 1);
        const [plain] = await all;
        const transport = await plain.made;
        const after = new Sink(loop);
        const buffered = new Buffered(after);
        buffered.transport = transport;
        transport.setProtocol(buffered);
        client.write(Buffer.alloc(50, 1));
        await new Promise((resolve) => {
          after.onData = () => resolve();
          client.write(Buffer.alloc(30, 2));
        });
        client.writeEof();
        const rest = await after.eof;
        const all80 = Buffer.concat([...buffered.chunks, rest]);
        assert.ok(all80.equals(Buffer.concat([Buffer.alloc(50, 1), Buffer.alloc(30, 2)])));
        transport.close();
        client.close();
        server.close();
        await server.waitClosed();
      }, { backend });
    });

    test('setProtocol to a BufferedProtocol while a read waits in the batch loses none of it', async () => {
      await run(async () => {
        const loop = getRunningLoop();
        class Buffered extends BufferedProtocol {
          constructor() {
            super();
            this.buf = Buffer.alloc(5);
            this.chunks = [];
            this.eof = loop.createFuture();
          }
          getBuffer() {
            return this.buf;
          }
          bufferUpdated(n) {
            this.chunks.push(Buffer.from(this.buf.subarray(0, n)));
          }
          eofReceived() {
            this.eof.setResult(Buffer.concat(this.chunks));
          }
        }
        // Whichever server side sees data first switches every other one: their data may be
        // read already, in the same batch, for the plain protocol they had.
        let first = null;
        const switched = loop.createFuture();
        const { server, port, all } = await serverWith(loop, 4, () => new Sink(loop, (self) => {
          if (first !== null) return;
          first = self;
          for (const p of protos) {
            if (p === self) continue;
            p.next = new Buffered();
            p.next.transport = p.transport;
            p.transport.setProtocol(p.next);
          }
          switched.setResult();
        }));
        const clients = await connectMany(loop, port, 4);
        const protos = await all;
        await Promise.all(protos.map((p) => p.made));
        const payloads = clients.map((_, i) => Buffer.alloc(1000 + i, 65 + i));
        clients.forEach((c, i) => {
          c.write(payloads[i]);
          c.writeEof();
        });
        await switched;
        const got = await Promise.all(protos.map((p) => (p === first ? p.eof : p.next.eof)));
        const expected = new Set(payloads.map((p) => p.toString('latin1')));
        for (const g of got) assert.ok(expected.delete(g.toString('latin1')), 'every byte once, in order');
        for (const p of protos) assert.equal(p === first || p.chunks.length === 0, true, 'nothing for the old protocol after the switch');
        for (const p of protos) p.transport.close();
        for (const c of clients) c.close();
        server.close();
        await server.waitClosed();
      }, { backend });
    });

    test('a reset connection is connectionLost with the errno error, not an exception', async () => {
      await run(async () => {
        const loop = getRunningLoop();
        const errors = [];
        loop.setExceptionHandler((_, ctx) => errors.push(ctx));
        const { server, port, all } = await serverWith(loop, 1, () => new Sink(loop));
        const [client] = await connectMany(loop, port, 1);
        const [p] = await all;
        await p.made;
        const { binding } = require('evloop/internal');
        binding.setsockopt(client.getExtraInfo('fd'), 'SO_LINGER', 0);
        client.abort();
        const err = await p.lost;
        assert.equal(err?.code, 'ECONNRESET');
        assert.deepEqual(errors, []);
        server.close();
        await server.waitClosed();
      }, { backend });
    });
  });
}
