'use strict';
// Faults are normal cases: refused and reset connections, half-closing and vanishing peers, a
// reader that never drains, a server out of file descriptors. Real sockets on 127.0.0.1, with
// Node's own `net` (or a child process) as the misbehaving peer; every byte is checked.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const net = require('node:net');
const readline = require('node:readline');
const { run, getRunningLoop, Protocol, openConnection, startServer } = require('evloop');

const DIST = require.resolve('evloop');

/** A protocol that records what happens to it; `lost` / `eof` are futures. */
class Recorder extends Protocol {
  constructor(loop, { keepOpenOnEof = false, onEof } = {}) {
    super();
    this.chunks = [];
    this.lostCalls = 0;
    this.pausedAt = [];
    this.resumes = 0;
    this.keepOpenOnEof = keepOpenOnEof;
    this.onEof = onEof;
    this.made = loop.createFuture();
    this.lost = loop.createFuture();
    this.eof = loop.createFuture();
    this.pause = loop.createFuture();
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
    this.onEof?.(this.transport);
    return this.keepOpenOnEof;
  }
  pauseWriting() {
    this.pausedAt.push(this.transport.getWriteBufferSize());
    if (!this.pause.done()) this.pause.setResult();
  }
  resumeWriting() {
    this.resumes++;
  }
  connectionLost(err) {
    this.lostCalls++;
    if (!this.lost.done()) this.lost.setResult(err);
  }
}

/** A Node `net` server on 127.0.0.1; `connections` resolves the accepted sockets in order, as evloop futures. */
async function nodeServer(onConnection, options = {}) {
  const loop = getRunningLoop();
  const accepted = [];
  const waiting = [];
  const server = net.createServer(options, (socket) => {
    onConnection?.(socket);
    const w = waiting.shift();
    if (w) w.setResult(socket);
    else accepted.push(socket);
  });
  const listening = loop.createFuture();
  server.listen(0, '127.0.0.1', () => listening.setResult());
  await listening;
  const nextSocket = () => {
    const f = loop.createFuture();
    if (accepted.length) f.setResult(accepted.shift());
    else waiting.push(f);
    return f;
  };
  const close = async () => {
    const closed = loop.createFuture();
    server.close(() => closed.setResult());
    await closed;
  };
  return { port: server.address().port, nextSocket, close };
}

/** Everything a Node socket receives until its 'end' (or 'close'), as an evloop future. */
function collect(socket) {
  const fut = getRunningLoop().createFuture();
  const chunks = [];
  socket.on('data', (d) => chunks.push(d));
  socket.on('error', () => {});
  socket.on('close', () => {
    if (!fut.done()) fut.setResult(Buffer.concat(chunks));
  });
  return fut;
}

/** A port that was free a moment ago and has no listener. */
async function closedPort() {
  const loop = getRunningLoop();
  const server = await loop.createServer(() => new Protocol(), '127.0.0.1', 0);
  const { port } = server.address();
  server.close();
  await server.waitClosed();
  return port;
}

/** Deterministic bytes: the content of byte i depends on i only. */
function pattern(offset, length) {
  const buf = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) buf[i] = ((offset + i) * 131 + ((offset + i) >>> 9)) & 0xff;
  return buf;
}

test('a refused connection fails with ECONNREFUSED in .code (createConnection and openConnection)', () =>
  run(async () => {
    const loop = getRunningLoop();
    const port = await closedPort();
    await assert.rejects(loop.createConnection(() => new Recorder(loop), '127.0.0.1', port), (err) => {
      assert.equal(err.code, 'ECONNREFUSED');
      assert.ok(err instanceof Error);
      return true;
    });
    await assert.rejects(openConnection('127.0.0.1', port), { code: 'ECONNREFUSED' });
  }));

test('a reset connection reports connectionLost with ECONNRESET exactly once', () =>
  run(async () => {
    const loop = getRunningLoop();
    const peer = await nodeServer((socket) => socket.once('data', () => socket.resetAndDestroy()));
    const proto = new Recorder(loop);
    const [transport] = await loop.createConnection(() => proto, '127.0.0.1', peer.port);
    transport.write(Buffer.from('ping'));
    const err = await proto.lost;
    assert.equal(err.code, 'ECONNRESET');
    assert.equal(transport.isClosing(), true);
    // Writes after the loss are dropped quietly (as asyncio's), and nothing is reported twice.
    transport.write(Buffer.from('after'));
    transport.close();
    await peer.close();
    assert.equal(proto.lostCalls, 1);
  }));

test('a reset connection fails the stream reader and waitClosed with ECONNRESET', () =>
  run(async () => {
    const peer = await nodeServer((socket) => socket.once('data', () => socket.resetAndDestroy()));
    const [reader, writer] = await openConnection('127.0.0.1', peer.port);
    writer.write(Buffer.from('ping\n'));
    await assert.rejects(reader.readLine(), { code: 'ECONNRESET' });
    await assert.rejects(writer.waitClosed(), { code: 'ECONNRESET' });
    await assert.rejects(writer.drain(), { code: 'ECONNRESET' });
    await peer.close();
  }));

test('a peer that half-closes: eofReceived runs and we can still write back (protocol)', () =>
  run(async () => {
    const loop = getRunningLoop();
    const server = await loop.createServer(
      () =>
        new Recorder(loop, {
          keepOpenOnEof: true,
          onEof(transport) {
            const got = Buffer.concat(this.chunks);
            transport.write(Buffer.from(`echo after eof: ${got.toString()}`));
            transport.close();
          },
        }),
      '127.0.0.1',
      0,
    );
    const client = net.connect({ port: server.address().port, host: '127.0.0.1', allowHalfOpen: true });
    const reply = collect(client);
    client.end('request body');
    assert.equal((await reply).toString(), 'echo after eof: request body');
    server.close();
    await server.waitClosed();
  }));

test('a peer that half-closes: the stream reader sees EOF and the writer still answers (streams)', () =>
  run(async () => {
    const payload = crypto.randomBytes(3 * 1024 * 1024);
    const server = await startServer(
      async (reader, writer) => {
        const body = await reader.read();
        assert.equal(reader.atEof(), true);
        const digest = crypto.createHash('sha256').update(body).digest();
        writer.write(digest);
        writer.write(body); // the whole body back, after the EOF
        await writer.drain();
        writer.close();
      },
      '127.0.0.1',
      0,
    );
    const client = net.connect({ port: server.address().port, host: '127.0.0.1', allowHalfOpen: true });
    const reply = collect(client);
    client.end(payload);
    const got = await reply;
    assert.ok(got.subarray(0, 32).equals(crypto.createHash('sha256').update(payload).digest()));
    assert.ok(got.subarray(32).equals(payload));
    server.close();
    await server.waitClosed();
  }));

/** A child process serving TCP on 127.0.0.1 that reads nothing; resolves to { port, child }. */
async function spawnSilentPeer() {
  const loop = getRunningLoop();
  const child = spawn(
    process.execPath,
    ['-e', "const s=require('net').createServer(c=>c.pause());s.listen(0,'127.0.0.1',()=>console.log(s.address().port))"],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const ready = loop.createFuture();
  readline.createInterface({ input: child.stdout }).once('line', (line) => ready.setResult(Number(line)));
  const exited = loop.createFuture();
  child.once('exit', (code, signal) => exited.setResult(signal ?? code));
  return { port: await ready, child, exited };
}

test('a peer that vanishes mid-write: no SIGPIPE, connectionLost with EPIPE or ECONNRESET', () =>
  run(async () => {
    const loop = getRunningLoop();
    const peer = await spawnSilentPeer();
    const proto = new Recorder(loop);
    const [transport] = await loop.createConnection(() => proto, '127.0.0.1', peer.port);
    transport.write(crypto.randomBytes(32 * 1024 * 1024));
    assert.ok(transport.getWriteBufferSize() > 0, 'the peer does not read: bytes stay queued');
    peer.child.kill('SIGKILL');
    assert.equal(await peer.exited, 'SIGKILL');
    const err = await proto.lost;
    assert.ok(['EPIPE', 'ECONNRESET'].includes(err.code), `got ${err.code}`);
    assert.equal(proto.lostCalls, 1);
    assert.equal(transport.getWriteBufferSize(), 0, 'what could not be sent is dropped');
  }));

test('a peer that vanishes mid-write: the streams writer fails drain() with EPIPE or ECONNRESET', () =>
  run(async () => {
    const peer = await spawnSilentPeer();
    const [, writer] = await openConnection('127.0.0.1', peer.port);
    const chunk = crypto.randomBytes(256 * 1024);
    // Write until the buffer is over the high-water mark, then the peer dies while we wait.
    while (writer.transport.getWriteBufferSize() <= writer.transport.getWriteBufferLimits()[1]) writer.write(chunk);
    const draining = writer.drain();
    assert.equal(draining.done(), false);
    peer.child.kill('SIGKILL');
    await assert.rejects(draining, (err) => ['EPIPE', 'ECONNRESET'].includes(err.code));
    // Further writes are dropped without an exception; drain keeps failing.
    writer.write(chunk);
    await assert.rejects(writer.drain(), (err) => ['EPIPE', 'ECONNRESET'].includes(err.code));
    await peer.exited;
  }));

test('a slow reader that never drains: pauseWriting fires at the high-water mark and the buffer stays bounded', () =>
  run(async () => {
    const loop = getRunningLoop();
    const peer = await nodeServer((socket) => socket.pause());
    const proto = new Recorder(loop);
    const [transport] = await loop.createConnection(() => proto, '127.0.0.1', peer.port);
    const socket = await peer.nextSocket();
    const high = 256 * 1024;
    transport.setWriteBufferLimits({ high, low: 64 * 1024 });
    const chunkSize = 16 * 1024;
    let written = 0;
    // A well-behaved producer: write while not paused.
    while (proto.pausedAt.length === 0) {
      transport.write(pattern(written, chunkSize));
      written += chunkSize;
    }
    assert.equal(proto.pausedAt.length, 1);
    const [sizeAtPause] = proto.pausedAt;
    assert.ok(sizeAtPause > high, 'paused only once over the high-water mark');
    assert.ok(sizeAtPause <= high + chunkSize, 'paused by the write that crossed it');
    assert.ok(transport.getWriteBufferSize() <= high + chunkSize);
    // The reader finally reads: every byte arrives, in order, and writing resumes.
    const received = collect(socket);
    socket.resume();
    transport.close();
    const got = await received;
    assert.equal(got.length, written);
    assert.ok(got.equals(pattern(0, written)));
    assert.equal(proto.resumes, 1);
    await proto.lost;
    await peer.close();
  }));

test('a slow reader that never drains: a streams writer blocks in drain() with a bounded buffer', () =>
  run(async () => {
    const loop = getRunningLoop();
    const peer = await nodeServer((socket) => socket.pause());
    const [, writer] = await openConnection('127.0.0.1', peer.port);
    const socket = await peer.nextSocket();
    const high = writer.transport.getWriteBufferLimits()[1];
    const chunkSize = 32 * 1024;
    const total = 24 * 1024 * 1024;
    const blocked = loop.createFuture();
    let maxBuffered = 0;
    const producer = loop.createTask(
      (function* () {
        for (let off = 0; off < total; off += chunkSize) {
          writer.write(pattern(off, chunkSize));
          maxBuffered = Math.max(maxBuffered, writer.transport.getWriteBufferSize());
          const drained = writer.drain();
          if (!drained.done() && !blocked.done()) blocked.setResult(off + chunkSize);
          yield* drained;
        }
        writer.close();
        return total;
      })(),
    );
    const writtenWhenBlocked = await blocked;
    assert.ok(writtenWhenBlocked < total, 'the producer blocks before it is done');
    assert.equal(producer.done(), false);
    assert.ok(maxBuffered > high && maxBuffered <= high + chunkSize, `buffered ${maxBuffered}`);
    const received = collect(socket);
    socket.resume();
    assert.equal(await producer, total);
    const got = await received;
    assert.equal(got.length, total);
    assert.ok(got.equals(pattern(0, total)));
    assert.ok(maxBuffered <= high + chunkSize, `buffered ${maxBuffered}`);
    await peer.close();
  }));

// The child: an evloop echo server whose fd limit is tiny; it reports accept()'s EMFILE on stdout.
const FD_LIMITED_SERVER = `
const { run, getRunningLoop, startServer } = require(${JSON.stringify(DIST)});
run(async () => {
  const loop = getRunningLoop();
  loop.setExceptionHandler((_loop, context) => {
    const code = context.exception && context.exception.code;
    process.stdout.write(code === 'EMFILE' ? 'EMFILE\\n' : 'ERROR ' + context.message + ' ' + code + '\\n');
  });
  const server = await startServer(async (reader, writer) => {
    process.stdout.write('CONN\\n');
    for (;;) {
      const data = await reader.read(65536);
      if (data.length === 0) break;
      writer.write(data);
      await writer.drain();
    }
    writer.close();
  }, '127.0.0.1', 0, { acceptRetryDelay: 5 });
  process.stdout.write('PORT ' + server.address().port + '\\n');
  const stop = loop.createFuture();
  process.stdin.on('end', () => stop.setResult());
  process.stdin.resume();
  await stop;
  server.close();
});
`;

/** Resolves with the first of several futures to finish (its index). */
function firstOf(futures) {
  const loop = getRunningLoop();
  const winner = loop.createFuture();
  futures.forEach((f, i) =>
    f.addDoneCallback(() => {
      if (!winner.done()) winner.setResult(i);
    }),
  );
  return winner;
}

test('a server at its fd limit keeps serving its connections and accepts again once some close', () =>
  run(async () => {
    const loop = getRunningLoop();
    const child = spawn('prlimit', ['--nofile=64:64', process.execPath, '-e', FD_LIMITED_SERVER], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const exited = loop.createFuture();
    child.once('exit', (code) => exited.setResult(code));
    try {
      const port = loop.createFuture();
      const unexpected = [];
      let accepted = 0; // CONN lines: connections the child has accepted, in order
      let watch = null; // { index, count, fut }: is connection `index` left in the backlog?
      readline.createInterface({ input: child.stdout }).on('line', (line) => {
        if (line.startsWith('PORT ')) port.setResult(Number(line.slice(5)));
        else if (line === 'CONN') accepted++;
        else if (line === 'EMFILE') {
          // Linux's accept() takes an fd before it looks at the queue, so the server also sees
          // EMFILE right after accepting into its last free fd, before that connection's
          // CONN line. A second EMFILE (the retry after acceptRetryDelay) with the connection
          // still not accepted means it is left waiting.
          if (watch !== null && accepted <= watch.index && ++watch.count === 2) watch.fut.setResult();
        } else unexpected.push(line);
      });
      const serverPort = await port;

      const echo = async (conn, text) => {
        conn.writer.write(Buffer.from(text));
        assert.equal((await conn.reader.readExactly(Buffer.byteLength(text))).toString(), text);
      };

      // Open connections until one is not accepted because the server ran out of fds.
      const served = [];
      let stuck = null;
      for (let i = 0; i < 200 && stuck === null; i++) {
        const [reader, writer] = await openConnection('127.0.0.1', serverPort);
        watch = { index: i, count: 0, fut: loop.createFuture() };
        const text = `hello from connection ${i}\n`;
        writer.write(Buffer.from(text));
        const reply = reader.readExactly(text.length);
        const first = await firstOf([reply, watch.fut]);
        if (first === 0) {
          assert.equal((await reply).toString(), text);
          served.push({ reader, writer, i });
        } else {
          stuck = { reader, writer, reply, text };
        }
      }
      watch = null;
      assert.ok(stuck !== null, 'the fd limit was reached');
      assert.ok(served.length > 5, `served ${served.length} before EMFILE`);
      assert.equal(accepted, served.length);

      // Every connection it already has is still served, byte for byte.
      for (const conn of served) await echo(conn, `still here ${conn.i} ${'z'.repeat(conn.i * 100)}\n`);
      assert.equal(stuck.reply.done(), false, 'the connection over the limit waits in the backlog');

      // Free some fds: the waiting connection is accepted and served.
      for (const conn of served.splice(0, 3)) {
        conn.writer.writeEof();
        assert.equal((await conn.reader.read()).length, 0);
        conn.writer.close();
        await conn.writer.waitClosed();
      }
      assert.equal((await stuck.reply).toString(), stuck.text);
      served.push(stuck);
      const [reader, writer] = await openConnection('127.0.0.1', serverPort);
      const late = { reader, writer };
      await echo(late, 'accepted after the limit was lifted\n');
      served.push(late);
      for (const conn of served) await echo(conn, 'bye\n');

      for (const conn of served) conn.writer.close();
      child.stdin.end();
      assert.equal(await exited, 0);
      assert.deepEqual(unexpected, []);
    } finally {
      if (!exited.done()) child.kill('SIGKILL');
    }
  }));
