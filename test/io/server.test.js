'use strict';
// Server.closeClients() / abortClients() (asyncio 3.13), and OS errors that say where:
// connect, bind and listen failures carry the address they were about, as Node's do.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Writable } = require('node:stream');
const pino = require('pino');
const { run, getRunningLoop, Protocol, openConnection, startServer, createLogger } = require('evloop');

class Peer extends Protocol {
  constructor(loop) {
    super();
    this.chunks = [];
    this.made = loop.createFuture();
    this.lost = loop.createFuture();
  }
  connectionMade(transport) {
    this.transport = transport;
    this.made.setResult(transport);
  }
  dataReceived(data) {
    this.chunks.push(data);
  }
  connectionLost(err) {
    this.lost.setResult(err);
  }
}

// A port nothing listens on: bound by a server we close at once.
async function freePort(loop) {
  const server = await loop.createServer(() => new Protocol(), '127.0.0.1', 0);
  const { port } = server.address();
  server.close();
  await server.waitClosed();
  return port;
}

test('close() + waitClosed() waits for clients; closeClients() flushes and closes them', () =>
  run(async () => {
    const loop = getRunningLoop();
    const accepted = [];
    const server = await loop.createServer(() => {
      const p = new Peer(loop);
      accepted.push(p);
      return p;
    }, '127.0.0.1', 0);
    const { port } = server.address();
    const clients = [];
    for (let i = 0; i < 3; i++) clients.push((await loop.createConnection(() => new Peer(loop), '127.0.0.1', port))[1]);
    await Promise.all(accepted.map((p) => p.made));

    server.close();
    const closed = server.waitClosed();
    assert.equal(closed.done(), false, 'connected clients keep waitClosed() pending');

    accepted[0].transport.write(Buffer.from('last words'));
    server.closeClients();
    await closed;
    for (const p of accepted) assert.equal(await p.lost, null, 'closed cleanly');
    for (const c of clients) assert.equal(await c.lost, null);
    assert.equal(Buffer.concat(clients[0].chunks).toString(), 'last words', 'queued data was flushed before the close');
    server.closeClients(); // nothing left: a no-op
  }));

test('abortClients() closes at once, dropping queued writes', () =>
  run(async () => {
    const loop = getRunningLoop();
    let serverSide;
    const server = await loop.createServer(() => (serverSide = new Peer(loop)), '127.0.0.1', 0);
    const [clientTransport, client] = await loop.createConnection(() => new Peer(loop), '127.0.0.1', server.address().port);
    await serverSide.made;
    clientTransport.pauseReading();
    // More than the kernel takes while the client does not read: the rest stays queued.
    const big = Buffer.alloc(1 << 20);
    let written = 0;
    for (let i = 0; i < 64 && serverSide.transport.getWriteBufferSize() === 0; i++) {
      serverSide.transport.write(big);
      written += big.length;
    }
    assert.ok(serverSide.transport.getWriteBufferSize() > 0, 'something is queued');

    server.close();
    server.abortClients();
    await server.waitClosed(); // at once: nothing waits for the client to read
    assert.equal(await serverSide.lost, null);
    clientTransport.resumeReading();
    await client.lost;
    const received = Buffer.concat(client.chunks).length;
    assert.ok(received < written, `the queue was dropped (${received} of ${written} bytes arrived)`);
  }));

test('closeClients() reaches stream handlers: their reads end with EOF and they finish', () =>
  run(async () => {
    const loop = getRunningLoop();
    const finished = [];
    const allFinished = loop.createFuture();
    const server = await startServer(async (reader, writer) => {
      const rest = await reader.read(); // until EOF
      finished.push(String(rest));
      if (finished.length === 2) allFinished.setResult();
      writer.close();
    }, '127.0.0.1', 0);
    const [, w1] = await openConnection('127.0.0.1', server.address().port);
    const [, w2] = await openConnection('127.0.0.1', server.address().port);
    w1.write(Buffer.from('abc'));
    server.close();
    server.closeClients();
    await server.waitClosed();
    await allFinished;
    assert.equal(finished.length, 2);
    w1.close();
    w2.close();
  }));

test('connect errors name the address: "connect ECONNREFUSED 127.0.0.1:PORT", with .address and .port', () =>
  run(async () => {
    const loop = getRunningLoop();
    const port = await freePort(loop);
    const err = await loop.createConnection(() => new Protocol(), '127.0.0.1', port).then(
      () => assert.fail('connected'),
      (e) => e,
    );
    assert.equal(err.code, 'ECONNREFUSED');
    assert.equal(err.syscall, 'connect');
    assert.equal(err.message, `connect ECONNREFUSED 127.0.0.1:${port}`);
    assert.equal(err.address, '127.0.0.1');
    assert.equal(err.port, port);
    assert.match(err.stack, new RegExp(`^Error: connect ECONNREFUSED 127\\.0\\.0\\.1:${port}\\n`));
    // The streams API reports the same error.
    await assert.rejects(openConnection('127.0.0.1', port), { message: `connect ECONNREFUSED 127.0.0.1:${port}`, address: '127.0.0.1', port });
    // IPv6 as Node prints it, and a name: the address tried, after the lookup.
    const v6 = await loop.createServer(() => new Protocol(), '::1', 0);
    const v6Port = v6.address().port;
    v6.close();
    await v6.waitClosed();
    await assert.rejects(openConnection('::1', v6Port), { message: `connect ECONNREFUSED ::1:${v6Port}`, address: '::1', port: v6Port });
    await assert.rejects(openConnection('localhost', port, { family: 4 }), { message: `connect ECONNREFUSED 127.0.0.1:${port}` });
  }));

test('bind/listen errors name the address; a Unix socket error names its path', () =>
  run(async () => {
    const loop = getRunningLoop();
    const server = await loop.createServer(() => new Protocol(), '127.0.0.1', 0);
    const { port } = server.address();
    const err = await loop.createServer(() => new Protocol(), '127.0.0.1', port, { reuseAddress: false }).then(
      () => assert.fail('listened twice'),
      (e) => e,
    );
    assert.equal(err.code, 'EADDRINUSE');
    assert.equal(err.message, `${err.syscall} EADDRINUSE 127.0.0.1:${port}`);
    assert.deepEqual([err.address, err.port], ['127.0.0.1', port]);
    server.close();

    // A local address already in use, when connecting from it: the local address is named.
    const target = await loop.createServer(() => new Protocol(), '127.0.0.1', 0);
    const holder = await loop.createServer(() => new Protocol(), '127.0.0.1', 0);
    const taken = holder.address().port;
    const bindErr = await loop.createConnection(() => new Protocol(), '127.0.0.1', target.address().port, { localAddr: ['127.0.0.1', taken] }).then(
      () => assert.fail('bound twice'),
      (e) => e,
    );
    assert.equal(bindErr.code, 'EADDRINUSE');
    assert.equal(bindErr.message, `bind EADDRINUSE 127.0.0.1:${taken}`);
    target.close();
    holder.close();

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evloop-where-'));
    try {
      const missing = path.join(dir, 'nobody.sock');
      const unixErr = await loop.createUnixConnection(() => new Protocol(), missing).then(
        () => assert.fail('connected'),
        (e) => e,
      );
      assert.equal(unixErr.code, 'ENOENT');
      assert.equal(unixErr.message, `connect ENOENT ${missing}`);
      assert.equal(unixErr.address, missing);
      assert.equal(unixErr.path, missing);
      const noDir = path.join(dir, 'no', 'such', 'dir.sock');
      await assert.rejects(loop.createUnixServer(() => new Protocol(), noDir), { code: 'ENOENT', message: `bind ENOENT ${noDir}`, path: noDir });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }));

test('a client handler that throws is logged at error, in evloop words, with its stack and the peer', () => {
  const lines = [];
  const logger = createLogger({ sink: (line, level) => lines.push({ line, level }) });
  return run(
    async () => {
      const server = await startServer(async function brokenHandler(reader) {
        await reader.readLine();
        throw new Error('handler broke');
      }, '127.0.0.1', 0);
      const [reader, writer] = await openConnection('127.0.0.1', server.address().port);
      const local = writer.getExtraInfo('sockname');
      writer.write(Buffer.from('hi\n'));
      assert.equal((await reader.read()).length, 0, 'the connection is closed after the failure');
      writer.close();
      server.close();
      const errors = lines.filter((l) => l.level === 'error');
      assert.equal(errors.length, 1, JSON.stringify(lines));
      const [first, ...frames] = errors[0].line.split('\n');
      assert.match(first, new RegExp(`ERROR client handler failed, Error: handler broke: 127\\.0\\.0\\.1:${local.port}$`));
      assert.ok(!errors[0].line.includes('client_connected_cb'));
      assert.match(frames[0], /^ {4}at brokenHandler /, 'the stack follows, at error level');
    },
    { logger },
  );
});

test('with a pino logger, a client handler failure is one record with the error under err', () => {
  const records = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const text of chunk.toString().split('\n')) if (text) records.push(JSON.parse(text));
      cb();
    },
  });
  return run(
    async () => {
      const server = await startServer(async (reader) => {
        await reader.readLine();
        throw Object.assign(new Error('handler broke'), { code: 'E_HANDLER' });
      }, '127.0.0.1', 0);
      const [reader, writer] = await openConnection('127.0.0.1', server.address().port);
      const local = writer.getExtraInfo('sockname');
      writer.write(Buffer.from('hi\n'));
      await reader.read();
      writer.close();
      server.close();
      const errors = records.filter((r) => r.level === 50);
      assert.equal(errors.length, 1, JSON.stringify(records));
      assert.equal(errors[0].msg, 'client handler failed');
      assert.equal(errors[0].key, `127.0.0.1:${local.port}`);
      assert.equal(errors[0].err.type, 'Error');
      assert.equal(errors[0].err.message, 'handler broke');
      assert.equal(errors[0].err.code, 'E_HANDLER');
      assert.match(errors[0].err.stack, /^Error: handler broke\n {4}at /);
    },
    { logger: pino({ level: 'info' }, stream) },
  );
});
