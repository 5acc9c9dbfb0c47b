'use strict';
// TLS transports (asyncio's sslproto.py): createConnection / createServer with `tls`, and
// loop.startTls, over real sockets on 127.0.0.1, against evloop and against Node's own `tls`.
// Translated from CPython's Lib/test/test_asyncio/test_sslproto.py and test_ssl.py where
// API.md promises the behaviour (each test names its source). Certificates: a throwaway CA
// made by test/helpers/tls-certs.js.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const tls = require('node:tls');
const { run, getRunningLoop, Protocol, BufferedProtocol, TimeoutError, CancelledError, socket, openConnection, startServer } = require('evloop');
const { makeCerts } = require('../helpers/tls-certs.js');

const certs = makeCerts();
const serverTls = { key: certs.server.key, cert: certs.server.cert };
const clientTls = { ca: certs.ca };
const openFds = () => fs.readdirSync('/proc/self/fd').length;
// A real collection, so a memory figure measures what is kept, not what is not yet collected.
require('node:v8').setFlagsFromString('--expose-gc');
const gc = require('node:vm').runInNewContext('gc');

/** Records what a protocol is told; futures for the moments tests wait on. */
class Recorder extends Protocol {
  constructor(loop, { echo = false } = {}) {
    super();
    this.echo = echo;
    this.chunks = [];
    this.received = 0;
    this.made = loop.createFuture();
    this.lost = loop.createFuture();
    this.waiting = null;
    this.paused = 0;
    this.resumed = 0;
  }
  connectionMade(transport) {
    this.transport = transport;
    this.made.setResult(transport);
  }
  dataReceived(data) {
    this.received += data.length;
    if (this.echo) this.transport.write(data);
    else this.chunks.push(Buffer.from(data));
    if (this.waiting !== null && this.received >= this.waiting.n) {
      const w = this.waiting;
      this.waiting = null;
      w.fut.setResult(undefined);
    }
  }
  pauseWriting() {
    this.paused++;
  }
  resumeWriting() {
    this.resumed++;
  }
  connectionLost(err) {
    if (!this.lost.done()) this.lost.setResult(err);
  }
  /** Resolves once `n` bytes in all have arrived. */
  until(loop, n) {
    const fut = loop.createFuture();
    if (this.received >= n) fut.setResult(undefined);
    else this.waiting = { n, fut };
    return fut;
  }
  data() {
    return Buffer.concat(this.chunks);
  }
}

async function echoServer(loop, opts = {}) {
  const server = await loop.createServer(() => new Recorder(loop, { echo: true }), '127.0.0.1', 0, { tls: serverTls, ...opts });
  return { server, port: server.sockets[0].address.port };
}

// test_ssl.py: test_create_connection_ssl_1 (echo over TLS), plus get_extra_info.
test('echo over TLS between an evloop client and an evloop server; extra info', async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const { server, port } = await echoServer(loop);
    const [transport, proto] = await loop.createConnection(() => new Recorder(loop), '127.0.0.1', port, { tls: clientTls });
    assert.equal(transport.getExtraInfo('peercert').subject.CN, 'localhost');
    assert.match(transport.getExtraInfo('cipher').version, /^TLSv1\.[23]$/);
    assert.equal(transport.getExtraInfo('alpnProtocol'), null);
    assert.equal(transport.getExtraInfo('peername').port, port);
    assert.equal(typeof transport.getExtraInfo('fd'), 'number');
    assert.equal(transport.canWriteEof(), false);
    assert.throws(() => transport.writeEof(), { code: 'ERR_METHOD_NOT_IMPLEMENTED' });
    transport.write(Buffer.from('hello '));
    transport.writelines([Buffer.from('over '), Buffer.from('TLS')]);
    await proto.until(loop, 14);
    assert.equal(String(proto.data()), 'hello over TLS');
    transport.close();
    assert.equal(await proto.lost, null);
    server.close();
    await server.waitClosed();
  });
});

// test_ssl.py: test_create_connection_memory_leak-style large transfers / test_flush_before_shutdown:
// several MiB both ways, with the writer's flow control (pauseWriting / resumeWriting) and a
// BufferedProtocol on the receiving side.
test('large transfers both ways with flow control; BufferedProtocol over TLS', async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const SIZE = 6 * 1024 * 1024;
    const payload = Buffer.alloc(SIZE);
    for (let i = 0; i < SIZE; i += 4) payload.writeUInt32LE(i, i);
    class BufferedSink extends BufferedProtocol {
      constructor() {
        super();
        this.buf = Buffer.alloc(SIZE);
        this.n = 0;
        this.done = loop.createFuture();
      }
      connectionMade(t) {
        this.transport = t;
      }
      getBuffer(hint) {
        assert.ok(hint === -1 || hint > 0);
        return this.buf.subarray(this.n, Math.min(this.n + 4096, SIZE));
      }
      bufferUpdated(n) {
        this.n += n;
        if (this.n === SIZE) {
          // Upload done: send it all back, through the TLS transport's flow control.
          this.transport.write(this.buf);
          this.done.setResult(this.transport.getWriteBufferSize());
        }
      }
    }
    let sink;
    const server = await loop.createServer(() => (sink = new BufferedSink()), '127.0.0.1', 0, { tls: serverTls });
    const port = server.sockets[0].address.port;
    const [transport, proto] = await loop.createConnection(() => new Recorder(loop), '127.0.0.1', port, { tls: clientTls });
    transport.setWriteBufferLimits({ high: 64 * 1024 });
    for (let off = 0; off < SIZE; off += 256 * 1024) transport.write(payload.subarray(off, off + 256 * 1024));
    assert.ok(transport.getWriteBufferSize() > 64 * 1024);
    assert.equal(proto.paused, 1, 'pauseWriting when the TLS buffers pass the high-water mark');
    await sink.done;
    assert.ok(proto.resumed >= 1, 'resumeWriting once drained');
    // Reading paused: the server's echo waits in the kernel and TLS buffers until resumed.
    transport.pauseReading();
    assert.equal(transport.isReading(), false);
    const before = proto.received;
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(proto.received - before < SIZE);
    transport.resumeReading();
    await proto.until(loop, SIZE);
    assert.ok(proto.data().equals(payload));
    transport.close();
    await proto.lost;
    server.close();
  });
});

// test_ssl.py: test_create_connection_ssl_failed_certificate (verification on by default).
test('a certificate no CA vouches for fails with Node\'s code; nothing leaks', async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const server = await loop.createServer(() => new Recorder(loop), '127.0.0.1', 0, { tls: certs.self });
    const port = server.sockets[0].address.port;
    const fds = openFds();
    await assert.rejects(loop.createConnection(() => new Recorder(loop), '127.0.0.1', port, { tls: {} }), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    await assert.rejects(loop.createConnection(() => new Recorder(loop), '127.0.0.1', port, { tls: true }), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    // The same self-signed certificate given as the CA: accepted.
    const [t, p] = await loop.createConnection(() => new Recorder(loop), '127.0.0.1', port, { tls: { ca: certs.self.cert } });
    assert.equal(t.getExtraInfo('peercert').subject.CN, 'localhost');
    t.close();
    await p.lost;
    // rejectUnauthorized: false is Node's way to skip the check.
    const [t2, p2] = await loop.createConnection(() => new Recorder(loop), '127.0.0.1', port, { tls: { rejectUnauthorized: false } });
    t2.abort();
    await p2.lost;
    server.close();
    await server.waitClosed();
    await new Promise((r) => setImmediate(r));
    assert.equal(openFds(), fds - 1);
  });
});

// test_ssl.py: test_create_connection_ssl_failed_hostname (check_hostname).
test('a wrong hostname fails with ERR_TLS_CERT_ALTNAME_INVALID; serverHostname picks the name', async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const { server, port } = await echoServer(loop);
    await assert.rejects(loop.createConnection(() => new Recorder(loop), '127.0.0.1', port, { tls: clientTls, serverHostname: 'example.com' }), {
      code: 'ERR_TLS_CERT_ALTNAME_INVALID',
    });
    await assert.rejects(loop.createConnection(() => new Recorder(loop), 'localhost', port, { tls: clientTls, serverHostname: 'other.test', family: 4 }), {
      code: 'ERR_TLS_CERT_ALTNAME_INVALID',
    });
    const [t, p] = await loop.createConnection(() => new Recorder(loop), '127.0.0.1', port, { tls: clientTls, serverHostname: 'localhost' });
    t.close();
    await p.lost;
    // '' turns the name check off (asyncio's server_hostname=''), not the chain check.
    const [t2, p2] = await loop.createConnection(() => new Recorder(loop), '127.0.0.1', port, { tls: clientTls, serverHostname: '' });
    t2.close();
    await p2.lost;
    server.close();
  });
});

// test_ssl.py: test_handshake_timeout / test_ssl_handshake_timeout (a server that never answers).
test('a handshake that never completes times out with a TimeoutError; the socket is closed', async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const silent = await loop.createServer(() => new Recorder(loop), '127.0.0.1', 0);
    const port = silent.sockets[0].address.port;
    const fds = openFds();
    const t0 = loop.time();
    const err = await loop.createConnection(() => new Recorder(loop), '127.0.0.1', port, { tls: clientTls, handshakeTimeout: 150 }).then(
      () => assert.fail('connected'),
      (e) => e,
    );
    assert.ok(err instanceof TimeoutError);
    assert.equal(err.code, 'ERR_TLS_HANDSHAKE_TIMEOUT');
    assert.ok(loop.time() - t0 >= 150);
    silent.close();
    await silent.waitClosed();
    await new Promise((r) => setImmediate(r));
    assert.equal(openFds(), fds - 1);
  });
});

// test_sslproto.py: test_close_during_handshake / cancelling create_connection while it waits.
test('cancelling a pending TLS connect closes the connection; the server sees it go', async () => {
  await run(async () => {
    const loop = getRunningLoop();
    let peer;
    const silent = await loop.createServer(() => (peer = new Recorder(loop)), '127.0.0.1', 0);
    const port = silent.sockets[0].address.port;
    const fds = openFds();
    const pending = loop.createConnection(() => new Recorder(loop), '127.0.0.1', port, { tls: clientTls });
    while (peer === undefined || peer.received === 0) await new Promise((r) => setTimeout(r, 5)); // the ClientHello arrived
    pending.cancel();
    await assert.rejects(pending, CancelledError);
    assert.equal(await peer.lost, null);
    silent.close();
    await silent.waitClosed();
    await new Promise((r) => setImmediate(r));
    assert.equal(openFds(), fds - 1);
  });
});

// test_sslproto.py: test_eof_received_waiter (EOF during the handshake is a reset): a client
// that hangs up, or speaks no TLS, mid-handshake frees the server's connection at once, not
// after the handshake time-out; the application's protocol never hears of it.
test('a client that hangs up or speaks no TLS mid-handshake is dropped at once', async () => {
  await run(async () => {
    const loop = getRunningLoop();
    let made = 0;
    const server = await loop.createServer(() => Object.assign(new Recorder(loop), { connectionMade: () => made++ }), '127.0.0.1', 0, { tls: serverTls });
    const port = server.sockets[0].address.port;
    const fds = openFds();
    const ended = (payload) =>
      new Promise((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => (payload === null ? s.end() : s.write(payload)));
        s.on('error', () => {});
        s.on('close', resolve);
        s.resume();
      });
    await Promise.all([ended(null), ended(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')), ended(null)]);
    server.close();
    await server.waitClosed(); // would wait out the 60 s handshake time-out if they lingered
    assert.equal(made, 0);
    await new Promise((r) => setImmediate(r));
    assert.equal(openFds(), fds - 1);
  });
});

// test_ssl.py: test_shutdown_cleanly (close_notify). Over TLS 1.2 the alert is a record of its
// own type (21) on the wire: a proxy in between sees the closing side send it last.
test('close() sends close_notify before the connection ends', async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const { server, port } = await echoServer(loop);
    const seen = [];
    let clientDone;
    const clientEnded = new Promise((r) => (clientDone = r));
    const proxy = net.createServer((down) => {
      const up = net.connect(port, '127.0.0.1');
      down.on('data', (d) => {
        seen.push(d);
        up.write(d);
      });
      up.pipe(down);
      down.on('end', () => {
        up.end();
        clientDone();
      });
      down.on('error', () => {});
      up.on('error', () => {});
    });
    await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
    const [t, p] = await loop.createConnection(() => new Recorder(loop), '127.0.0.1', proxy.address().port, {
      tls: { ...clientTls, maxVersion: 'TLSv1.2' },
      serverHostname: 'localhost',
    });
    t.write(Buffer.from('x'));
    await p.until(loop, 1);
    t.close();
    assert.equal(await p.lost, null);
    await clientEnded;
    // Walk the client's records: the last one is an alert.
    const bytes = Buffer.concat(seen);
    const types = [];
    for (let off = 0; off + 5 <= bytes.length; off += 5 + bytes.readUInt16BE(off + 3)) types.push(bytes[off]);
    assert.equal(types.at(-1), 21, `record types ${types}`);
    assert.ok(types.includes(23));
    proxy.close();
    server.close();
  });
});

// test_sslproto.py: test_start_tls_client_reg_proto_1 / test_start_tls_server_1 (STARTTLS).
test('startTls upgrades a plaintext connection on both sides', async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const upgraded = loop.createFuture();
    class Plain extends Protocol {
      connectionMade(t) {
        this.transport = t;
      }
      dataReceived(data) {
        if (String(data) === 'STARTTLS\n') {
          this.transport.write(Buffer.from('GO\n'));
          const tlsProto = new Recorder(loop);
          const secure = loop.startTls(this.transport, tlsProto, serverTls, { serverSide: true });
          // Data after the upgrade comes once the handshake is done: the future holds the transport.
          tlsProto.dataReceived = (d) => secure.result().write(d);
          secure.then((t) => upgraded.setResult(t), (e) => upgraded.setException(e));
        }
      }
    }
    const server = await loop.createServer(() => new Plain(), '127.0.0.1', 0);
    const port = server.sockets[0].address.port;
    const [plain, proto] = await loop.createConnection(() => new Recorder(loop), '127.0.0.1', port);
    plain.write(Buffer.from('STARTTLS\n'));
    await proto.until(loop, 3);
    assert.equal(String(proto.data()), 'GO\n');
    const tlsProto = new Recorder(loop);
    plain.pauseReading(); // startTls reads for the handshake all the same (asyncio)
    const secure = await loop.startTls(plain, tlsProto, clientTls, { serverHostname: 'localhost' });
    tlsProto.transport = secure;
    const serverSide = await upgraded;
    assert.equal(serverSide.getExtraInfo('serverSide'), true);
    assert.equal(secure.getExtraInfo('peercert').subject.CN, 'localhost');
    secure.write(Buffer.from('secret'));
    await tlsProto.until(loop, 6);
    assert.equal(String(tlsProto.data()), 'secret');
    assert.throws(() => loop.startTls(secure, tlsProto, clientTls, { serverSide: 'yes', serverHostname: 1 }), { code: 'ERR_INVALID_ARG_TYPE' });
    secure.close();
    assert.equal(await tlsProto.lost, null);
    server.close();
  });
});

// test_ssl.py: test_create_server_ssl / create_connection(sock=…, ssl=…): TLS over a Socket
// the caller made (asyncio's sock=), on both sides, protocols and streams.
test('TLS over { sock }: createServer / createConnection and startServer / openConnection', async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const bound = socket();
    bound.bind(['127.0.0.1', 0]);
    const server = await loop.createServer(() => new Recorder(loop, { echo: true }), { sock: bound, tls: serverTls });
    const port = server.address().port;
    const sock = socket();
    await loop.sockConnect(sock, ['127.0.0.1', port]);
    // No serverHostname: the certificate is checked against the peer's address (127.0.0.1).
    const [t, p] = await loop.createConnection(() => new Recorder(loop), { sock, tls: clientTls });
    assert.equal(t.getExtraInfo('peercert').subject.CN, 'localhost');
    t.write(Buffer.from('sock'));
    await p.until(loop, 4);
    assert.equal(String(p.data()), 'sock');
    t.close();
    await p.lost;
    const wrong = socket();
    await loop.sockConnect(wrong, ['127.0.0.1', port]);
    await assert.rejects(loop.createConnection(() => new Recorder(loop), { sock: wrong, tls: clientTls, serverHostname: 'example.com' }), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    server.close();

    const bound2 = socket();
    bound2.bind(['127.0.0.1', 0]);
    const srv = await startServer(async (reader, writer) => {
      writer.write(await reader.readLine());
      writer.close();
    }, { sock: bound2, tls: serverTls });
    const c = socket();
    await loop.sockConnect(c, srv.address());
    const [reader, writer] = await openConnection({ sock: c, tls: clientTls, serverHostname: 'localhost' });
    writer.write(Buffer.from('streams over sock\n'));
    assert.equal(String(await reader.readLine()), 'streams over sock\n');
    writer.close();
    srv.close();
  });
});

// test_ssl.py: ALPN (get_extra_info('ssl_object').selected_alpn_protocol()).
test('ALPN: the protocol both sides agree on', async () => {
  await run(async () => {
    const loop = getRunningLoop();
    let serverProto;
    const server = await loop.createServer(() => (serverProto = new Recorder(loop, { echo: true })), '127.0.0.1', 0, {
      tls: { ...serverTls, ALPNProtocols: ['http/1.1', 'evloop/1'] },
    });
    const port = server.sockets[0].address.port;
    const [t, p] = await loop.createConnection(() => new Recorder(loop), '127.0.0.1', port, { tls: { ...clientTls, ALPNProtocols: ['evloop/1'] } });
    assert.equal(t.getExtraInfo('alpnProtocol'), 'evloop/1');
    const st = await serverProto.made;
    assert.equal(st.getExtraInfo('alpnProtocol'), 'evloop/1');
    t.close();
    await p.lost;
    server.close();
  });
});

// Interop: evloop's client against Node's tls server, Node's tls client against evloop's server.
test('interop with Node\'s tls in both directions (client certificates too)', async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const nodeServer = tls.createServer({ ...serverTls, ca: certs.ca, requestCert: true }, (s) => {
      assert.equal(s.authorized, true);
      s.on('data', (d) => s.write(Buffer.from(String(d).toUpperCase())));
      s.on('end', () => s.end());
    });
    await new Promise((r) => nodeServer.listen(0, '127.0.0.1', r));
    const [t, p] = await loop.createConnection(() => new Recorder(loop), '127.0.0.1', nodeServer.address().port, {
      tls: { ...clientTls, key: certs.client.key, cert: certs.client.cert },
    });
    t.write(Buffer.from('from evloop'));
    await p.until(loop, 11);
    assert.equal(String(p.data()), 'FROM EVLOOP');
    t.close();
    assert.equal(await p.lost, null);
    nodeServer.close();

    let serverProto;
    const server = await loop.createServer(() => (serverProto = new Recorder(loop, { echo: true })), '127.0.0.1', 0, {
      tls: { ...serverTls, ca: certs.ca, requestCert: true },
    });
    const port = server.sockets[0].address.port;
    const text = await new Promise((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port, ca: certs.ca, key: certs.client.key, cert: certs.client.cert }, () => s.end('from node'));
      const got = [];
      s.on('data', (d) => got.push(d));
      s.on('end', () => resolve(String(Buffer.concat(got))));
      s.on('error', reject);
    });
    assert.equal(text, 'from node');
    assert.equal((await serverProto.made).getExtraInfo('peercert').subject.CN, 'evloop client');
    assert.equal(await serverProto.lost, null);
    // Without a client certificate, requestCert + rejectUnauthorized refuses the client.
    const refused = await new Promise((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port, ca: certs.ca }, () => s.write('x'));
      s.on('error', (e) => resolve(e.code ?? 'error'));
      s.on('close', () => resolve('closed'));
    });
    assert.ok(refused);
    server.close();
  });
});

// test_ssl.py: test_create_connection_memory_leak / test_handshake_failure_leak:
// 1,000 failed handshakes leave no fd behind and memory bounded.
test('1,000 failed handshakes: no fd leak, bounded memory', async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const { server, port } = await echoServer(loop);
    const fds = openFds();
    const attempt = () => loop.createConnection(() => new Recorder(loop), '127.0.0.1', port, { tls: {} }).then(
      () => assert.fail('connected without a CA'),
      (e) => assert.equal(e.code, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'),
    );
    for (let i = 0; i < 100; i++) await attempt(); // warm up
    await new Promise((r) => setImmediate(r));
    gc();
    const { rss: rss0, heapUsed: heap0 } = process.memoryUsage();
    for (let round = 0; round < 100; round++) await Promise.all(Array.from({ length: 10 }, attempt));
    await new Promise((r) => setImmediate(r));
    gc();
    const { rss, heapUsed } = process.memoryUsage();
    assert.ok(heapUsed - heap0 < 4 * 1024 * 1024, `heap grew by ${heapUsed - heap0} bytes`);
    assert.ok(rss - rss0 < 48 * 1024 * 1024, `RSS grew by ${rss - rss0} bytes`);
    await new Promise((r) => setTimeout(r, 20));
    assert.ok(openFds() <= fds + 1, `fds ${fds} -> ${openFds()}`);
    server.close();
  });
});

// The portable wire (a Duplex under Node's JSStreamSocket) runs where Node's JSStream handle is
// not available: the same suite again with it forced.
if (process.env.EVLOOP_TLS_WIRE !== 'duplex') {
  test('the same suite over the portable Duplex wire (EVLOOP_TLS_WIRE=duplex)', () => {
    const { spawnSync } = require('node:child_process');
    const env = { ...process.env, EVLOOP_TLS_WIRE: 'duplex' };
    delete env.NODE_TEST_CONTEXT; // a run of its own, reporting in TAP
    const files = [__filename, require('node:path').join(__dirname, '..', 'streams', 'tls.test.js')];
    const child = spawnSync(process.execPath, ['--test', '--test-reporter=tap', ...files], { env, encoding: 'utf8' });
    assert.equal(child.status, 0, child.stdout.split('\n').filter((l) => /not ok|error|Error/.test(l)).join('\n'));
    assert.match(child.stdout, /# fail 0/);
  });
}

test('bad TLS options are TypeError / RangeError with codes', async () => {
  await run(async () => {
    const loop = getRunningLoop();
    const f = () => new Recorder(loop);
    assert.throws(() => loop.createConnection(f, '127.0.0.1', 1, { tls: 'yes' }), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => loop.createConnection(f, '127.0.0.1', 1, { serverHostname: 'x' }), { code: 'ERR_INVALID_ARG_VALUE' });
    assert.throws(() => loop.createConnection(f, '127.0.0.1', 1, { tls: clientTls, serverHostname: 5 }), { code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => loop.createConnection(f, '127.0.0.1', 1, { tls: clientTls, handshakeTimeout: -1 }), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => loop.createConnection(f, '127.0.0.1', 1, { tls: clientTls, handshakeTimeout: 0 }), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => loop.createServer(f, '127.0.0.1', 0, { tls: {} }), { code: 'ERR_INVALID_ARG_VALUE' });
    assert.throws(() => loop.createServer(f, '127.0.0.1', 0, { handshakeTimeout: 5 }), { code: 'ERR_INVALID_ARG_VALUE' });
    assert.throws(() => loop.createServer(f, '127.0.0.1', 0, { tls: { key: 'not a key', cert: 'nor a cert' } }), /PEM|key|certificate/i);
    assert.throws(() => loop.startTls(null, new Recorder(loop), clientTls), { code: 'ERR_INVALID_ARG_TYPE' });
    // A SecureContext made by Node works as the `tls` option.
    const { server, port } = await echoServer(loop, { tls: tls.createSecureContext(serverTls) });
    const [t, p] = await loop.createConnection(f, '127.0.0.1', port, { tls: tls.createSecureContext(clientTls) });
    t.close();
    await p.lost;
    server.close();
  });
});
