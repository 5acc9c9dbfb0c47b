'use strict';
// Low-level sockets (lib/io/socket.ts, lib/io/sock-ops.ts): socket() and the loop's sock*
// operations, translated from CPython's Lib/test/test_asyncio/test_sock_lowlevel.py (each test
// names its source) and run on every poller backend, over real sockets on 127.0.0.1, ::1 and
// Unix paths. The peers are Node's own `http`, `net` and `dgram` where a test needs an
// independent server.
const { test, describe } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const net = require('node:net');
const dgram = require('node:dgram');
const {
  run,
  sleep,
  waitFor,
  getRunningLoop,
  socket,
  Socket,
  Protocol,
  openConnection,
  openUnixConnection,
  startServer,
  startUnixServer,
  availableBackends,
  CancelledError,
  TimeoutError,
} = require('evloop');

const openFds = () => fs.readdirSync('/proc/self/fd').length;
const tmpPath = (name) => path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'evloop-sock-')), name);

/** CPython's run_test_server: an HTTP server answering every request with a short page. */
function httpServer(listenArgs) {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end('<html>evloop</html>'));
  });
  return new Promise((resolve) => server.listen(...listenArgs, () => resolve(server)));
}
const closeNode = (server) => new Promise((resolve) => server.close(() => resolve()));

/** Reads until EOF. */
async function recvAll(loop, sock) {
  const chunks = [];
  for (;;) {
    const b = await loop.sockRecv(sock, 65536);
    if (b.length === 0) return Buffer.concat(chunks);
    chunks.push(b);
  }
}

/** A connected TCP pair made with the sock* operations themselves: [client, server-side]. */
async function tcpPair(loop, family = 'IPv4') {
  const host = family === 'IPv6' ? '::1' : '127.0.0.1';
  const listener = socket({ family });
  listener.bind([host, 0]);
  listener.listen();
  const client = socket({ family });
  const accepted = loop.sockAccept(listener);
  await loop.sockConnect(client, listener.address());
  const [conn] = await accepted;
  listener.close();
  return [client, conn];
}

function pattern(size) {
  const buf = Buffer.alloc(size);
  for (let i = 0; i < size; i++) buf[i] = 48 + (i % 10); // '0123456789' repeated, as CPython's huge-content test
  return buf;
}

const hasIPv6 = (() => {
  try {
    const s = net.createServer();
    s.listen(0, '::1').close();
    return Object.values(os.networkInterfaces()).flat().some((i) => i.address === '::1');
  } catch {
    return false;
  }
})();

for (const backend of availableBackends()) {
  describe(`low-level sockets (${backend})`, () => {
    // test_sock_client_ops (TCP): connect, sendall, recv until the server closes.
    test('client ops over TCP against an HTTP server', async () => {
      const httpd = await httpServer([0, '127.0.0.1']);
      const before = openFds();
      await run(async () => {
        const loop = getRunningLoop();
        const sock = socket();
        await loop.sockConnect(sock, httpd.address());
        await loop.sockSendall(sock, Buffer.from('GET / HTTP/1.0\r\n\r\n'));
        const data = await recvAll(loop, sock);
        sock.close();
        assert.match(data.toString(), /^HTTP\/1\.[01] 200 OK/);
        assert.match(data.toString(), /<html>evloop<\/html>$/);
      }, { backend });
      assert.equal(openFds(), before, 'no fd leaked');
      await closeNode(httpd);
    });

    // test_sock_client_ops, _basetest_sock_recv_into: the same through sockRecvInto.
    test('client ops with sockRecvInto (views of one buffer)', async () => {
      const httpd = await httpServer([0, '127.0.0.1']);
      await run(async () => {
        const loop = getRunningLoop();
        const sock = socket();
        await loop.sockConnect(sock, ['127.0.0.1', httpd.address().port]);
        await loop.sockSendall(sock, Buffer.from('GET / HTTP/1.0\r\n\r\n'));
        const data = Buffer.alloc(4096);
        let n = 0;
        for (let got; (got = await loop.sockRecvInto(sock, data.subarray(n))) > 0; ) n += got;
        sock.close();
        assert.match(data.subarray(0, n).toString(), /^HTTP\/1\.[01] 200 OK[\s\S]*<html>evloop<\/html>$/);
      }, { backend });
      await closeNode(httpd);
    });

    // test_unix_sock_client_ops.
    test('client ops over a Unix socket', async () => {
      const file = tmpPath('httpd.sock');
      const httpd = await httpServer([file]);
      await run(async () => {
        const loop = getRunningLoop();
        const sock = socket({ family: 'unix' });
        await loop.sockConnect(sock, file);
        assert.equal(sock.remoteAddress().address, file);
        await loop.sockSendall(sock, Buffer.from('GET / HTTP/1.0\r\n\r\n'));
        assert.match((await recvAll(loop, sock)).toString(), /^HTTP\/1\.[01] 200 OK/);
        sock.close();
      }, { backend });
      await closeNode(httpd);
    });

    test('echo over TCP both ways with sock* on each end (IPv4 and IPv6)', async () => {
      const families = hasIPv6 ? ['IPv4', 'IPv6'] : ['IPv4'];
      await run(async () => {
        const loop = getRunningLoop();
        for (const family of families) {
          const [client, conn] = await tcpPair(loop, family);
          assert.equal(client.remoteAddress().family, family);
          const echo = (async () => {
            for (let b; (b = await loop.sockRecv(conn, 1024)).length > 0; ) await loop.sockSendall(conn, b);
            conn.shutdown('write');
          })();
          await loop.sockSendall(client, Buffer.from('ping '));
          await loop.sockSendall(client, Buffer.from('pong'));
          client.shutdown('write');
          assert.equal((await recvAll(loop, client)).toString(), 'ping pong');
          await echo;
          client.close();
          conn.close();
        }
      }, { backend });
    });

    // test_recvfrom: sendto an echo server, recvfrom the answer and its sender.
    test('UDP: sockSendto and sockRecvfrom against a dgram echo server', async () => {
      const echo = dgram.createSocket('udp4');
      echo.on('message', (msg, rinfo) => echo.send(msg, rinfo.port, rinfo.address));
      await new Promise((resolve) => echo.bind(0, '127.0.0.1', resolve));
      const server = { address: '127.0.0.1', port: echo.address().port };
      await run(async () => {
        const loop = getRunningLoop();
        const sock = socket({ type: 'dgram' });
        const data = Buffer.alloc(4096, 1);
        assert.equal(await loop.sockSendto(sock, data, server), 4096);
        const [received, from] = await loop.sockRecvfrom(sock, 4096);
        assert.deepEqual(received, data);
        assert.deepEqual(from, { ...server, family: 'IPv4' });
        // The answer is read before it is sent: the wait path.
        const pending = loop.sockRecvfrom(sock, 8192);
        await loop.sockSendto(sock, Buffer.from('second'), ['127.0.0.1', server.port]);
        const [second] = await pending;
        assert.equal(second.toString(), 'second');
        sock.close();
      }, { backend });
      echo.close();
    });

    test('UDP between two evloop sockets, connected and not (sockRecv / sockSendall on a connected one)', async () => {
      await run(async () => {
        const loop = getRunningLoop();
        const a = socket({ type: 'dgram' });
        const b = socket({ type: 'dgram' });
        a.bind(['127.0.0.1', 0]);
        b.bind(['127.0.0.1', 0]);
        await loop.sockConnect(b, a.address());
        await loop.sockSendall(b, Buffer.from('via connect'));
        const [msg, from] = await loop.sockRecvfrom(a, 100);
        assert.equal(msg.toString(), 'via connect');
        assert.deepEqual(from, b.address());
        await loop.sockSendto(a, Buffer.from('back'), from);
        assert.equal((await loop.sockRecv(b, 100)).toString(), 'back');
        a.close();
        b.close();
      }, { backend });
    });

    // test_huge_content / test_huge_content_recvinto: several MiB through sendall against a
    // reader that takes small bites and yields between them.
    test('sockSendall of 8 MiB against a slow reader: every byte, in order', async () => {
      const before = openFds();
      await run(async () => {
        const loop = getRunningLoop();
        const [client, conn] = await tcpPair(loop);
        conn.setOption('SO_RCVBUF', 16384);
        const data = pattern(8 * 1024 * 1024);
        const sending = loop.sockSendall(client, data);
        let received = 0;
        let waits = 0;
        const view = Buffer.alloc(16384);
        while (received < data.length) {
          const n = received % 2 === 0 ? (await loop.sockRecv(conn, 16384)).copy(view) : await loop.sockRecvInto(conn, view);
          assert.ok(n > 0);
          assert.ok(view.subarray(0, n).equals(data.subarray(received, received + n)), `bytes at ${received}`);
          received += n;
          if (!sending.done()) waits++;
          await sleep(0);
        }
        await sending;
        assert.ok(waits > 0, 'the sender had to wait for the reader');
        client.close();
        assert.equal((await loop.sockRecv(conn, 10)).length, 0, 'EOF is an empty Buffer');
        conn.close();
      }, { backend });
      assert.equal(openFds(), before, 'no fd leaked');
    });

    // test_sock_accept.
    test('sockAccept returns a non-blocking Socket and the peer address', async () => {
      await run(async () => {
        const loop = getRunningLoop();
        const listener = socket();
        listener.bind(['127.0.0.1', 0]);
        listener.listen(1);
        const client = net.connect(listener.address().port, '127.0.0.1');
        await new Promise((resolve) => client.once('connect', resolve));
        const [conn, addr] = await loop.sockAccept(listener);
        assert.ok(conn instanceof Socket);
        assert.equal(conn.family, 'IPv4');
        assert.equal(conn.type, 'stream');
        assert.deepEqual(addr, { address: client.localAddress, family: 'IPv4', port: client.localPort });
        assert.equal(client.remotePort, listener.address().port);
        // Non-blocking: a recv with nothing there waits instead of blocking the thread.
        const pending = loop.sockRecv(conn, 10);
        await sleep(0);
        assert.equal(pending.done(), false);
        client.write('x');
        assert.equal((await pending).toString(), 'x');
        client.destroy();
        conn.close();
        listener.close();
      }, { backend });
    });

    test('accepts many: 100 connections, each accepted once', async () => {
      const before = openFds();
      await run(async () => {
        const loop = getRunningLoop();
        const listener = socket();
        listener.bind(['127.0.0.1', 0]);
        listener.listen(128);
        const clients = [];
        for (let i = 0; i < 100; i++) {
          const c = socket();
          clients.push(c);
          loop.sockConnect(c, listener.address());
        }
        const ports = new Set();
        for (let i = 0; i < 100; i++) {
          const [conn, addr] = await loop.sockAccept(listener);
          ports.add(addr.port);
          conn.close();
        }
        assert.equal(ports.size, 100);
        assert.deepEqual(new Set(clients.map((c) => c.address().port)), ports);
        for (const c of clients) c.close();
        listener.close();
      }, { backend });
      assert.equal(openFds(), before, 'no fd leaked');
    });

    // test_sock_client_fail.
    test('connect to a closed port rejects with ECONNREFUSED (.code)', async () => {
      await run(async () => {
        const loop = getRunningLoop();
        const probe = socket();
        probe.bind(['127.0.0.1', 0]);
        const addr = probe.address();
        probe.close();
        const sock = socket();
        await assert.rejects(loop.sockConnect(sock, addr), (err) => err.code === 'ECONNREFUSED' && err.syscall === 'connect');
        sock.close();
      }, { backend });
    });

    // test_cancel_sock_accept.
    test('a timed-out sockAccept leaves the reader slot clean; connect after close is refused', async () => {
      await run(async () => {
        const loop = getRunningLoop();
        const listener = socket();
        listener.bind(['127.0.0.1', 0]);
        listener.listen(1);
        const addr = listener.address();
        const fd = listener.fd;
        await assert.rejects(waitFor(loop.sockAccept(listener), 20), TimeoutError);
        assert.equal(loop._readers[fd], undefined, 'no stale reader handle');
        listener.close();
        const client = socket();
        // On every backend: with poll and select, close() first waits until the helper thread's
        // poll()/select() no longer holds the listening socket (native/poller_wrap.cc ForgetFd).
        await assert.rejects(loop.sockConnect(client, addr), (err) => err.code === 'ECONNREFUSED');
        client.close();
      }, { backend });
    });

    // _basetest_sock_recv_racing: a recv cancelled before data comes loses nothing.
    test('a cancelled sockRecv loses no data and leaves the socket usable (async function)', async () => {
      await run(async () => {
        const loop = getRunningLoop();
        const [client, conn] = await tcpPair(loop);
        const task = loop.createTask((async () => loop.sockRecv(conn, 1024))());
        await sleep(0);
        task.cancel();
        await assert.rejects(task, CancelledError);
        await sleep(0);
        assert.equal(loop._readers[conn.fd], undefined, 'no stale reader handle');
        loop.createTask((async () => loop.sockSendall(client, Buffer.from('after the cancel')))());
        assert.equal((await loop.sockRecv(conn, 1024)).toString(), 'after the cancel');
        client.close();
        conn.close();
      }, { backend });
    });

    test('a cancelled sockRecvInto, then data, in a generator task', async () => {
      await run(function* () {
        const loop = getRunningLoop();
        const [client, conn] = yield* loop.createTask(tcpPair(loop));
        const buf = Buffer.alloc(64);
        const reader = loop.createTask(function* () {
          return yield* loop.sockRecvInto(conn, buf);
        }());
        yield* sleep(0);
        reader.cancel();
        let caught = null;
        try {
          yield* reader;
        } catch (err) {
          caught = err;
        }
        assert.ok(caught instanceof CancelledError);
        yield* loop.sockSendall(client, Buffer.from('hello'));
        const n = yield* loop.sockRecvInto(conn, buf);
        assert.equal(buf.subarray(0, n).toString(), 'hello');
        assert.equal(loop._readers[conn.fd], undefined);
        client.close();
        conn.close();
      }, { backend });
    });

    // _basetest_sock_send_racing: a sendall cancelled while the send buffer is full; the next
    // sendall still arrives, and whatever the cancelled one had sent stays a clean prefix.
    test('a cancelled sockSendall leaves the socket usable', async () => {
      await run(async () => {
        const loop = getRunningLoop();
        const [client, conn] = await tcpPair(loop);
        client.setOption('SO_SNDBUF', 1024);
        conn.setOption('SO_RCVBUF', 1024);
        const spaces = Buffer.alloc(16 * 1024 * 1024, 0x20);
        const blocked = loop.sockSendall(client, spaces);
        await sleep(0);
        assert.equal(blocked.done(), false, 'the send buffer is full');
        blocked.cancel();
        await assert.rejects(blocked, CancelledError);
        assert.equal(loop._writers[client.fd], undefined, 'no stale writer handle');
        const receiving = recvAll(loop, conn);
        await loop.sockSendall(client, Buffer.from('world'));
        client.shutdown('write');
        const data = await receiving;
        assert.equal(data.subarray(-5).toString(), 'world');
        assert.ok(data.subarray(0, -5).every((c) => c === 0x20), 'only spaces before it');
        client.close();
        conn.close();
      }, { backend });
    });

    // _basetest_sock_connect_racing: a connect cancelled before the listener listens; the
    // socket can connect afterwards (Linux needs at most one retry after a refusal).
    test('a cancelled sockConnect, then a successful one on the same socket', async () => {
      await run(async () => {
        const loop = getRunningLoop();
        const listener = socket();
        listener.bind(['127.0.0.1', 0]);
        const addr = listener.address();
        const sock = socket();
        const connecting = loop.sockConnect(sock, addr);
        connecting.cancel();
        await sleep(0);
        assert.equal(loop._writers[sock.fd], undefined);
        listener.listen(1);
        let lastError = null;
        for (let i = 0; i < 8; i++) {
          try {
            await loop.sockConnect(sock, addr);
            lastError = null;
            break;
          } catch (err) {
            lastError = err;
          }
        }
        assert.equal(lastError, null);
        assert.deepEqual(sock.remoteAddress(), addr);
        sock.close();
        listener.close();
      }, { backend });
    });

    test('two concurrent reads on one socket: the second throws ERR_SOCKET_BUSY; after the first, reads work', async () => {
      await run(async () => {
        const loop = getRunningLoop();
        const [client, conn] = await tcpPair(loop);
        const first = loop.sockRecv(conn, 10);
        assert.throws(() => loop.sockRecv(conn, 10), { code: 'ERR_SOCKET_BUSY' });
        assert.throws(() => loop.sockRecvInto(conn, Buffer.alloc(1)), { code: 'ERR_SOCKET_BUSY' });
        assert.throws(() => loop.sockAccept(conn), { code: 'ERR_SOCKET_BUSY' });
        // The write side is independent of the read side.
        await loop.sockSendall(conn, Buffer.from('x'));
        const blocked = loop.sockSendall(client, Buffer.alloc(32 * 1024 * 1024));
        assert.throws(() => loop.sockSendall(client, Buffer.from('y')), { code: 'ERR_SOCKET_BUSY' });
        blocked.cancel();
        // A cancelled operation frees its side at once.
        loop.sockSendall(client, Buffer.from('z')).cancel();
        assert.equal((await loop.sockRecv(client, 1)).toString(), 'x');
        assert.equal((await first).length > 0, true);
        assert.ok((await loop.sockRecv(conn, 10)).length > 0);
        client.close();
        conn.close();
      }, { backend });
    });

    test('closing a socket with a pending sockRecv rejects it with ERR_SOCKET_CLOSED and clears the slot', async () => {
      await run(async () => {
        const loop = getRunningLoop();
        const [client, conn] = await tcpPair(loop);
        const fd = conn.fd;
        const pending = loop.sockRecv(conn, 10);
        conn.close();
        await assert.rejects(pending, { code: 'ERR_SOCKET_CLOSED' });
        assert.equal(loop._readers[fd], undefined);
        assert.equal(conn.fd, -1);
        assert.equal(conn.isClosed(), true);
        client.close();
      }, { backend });
    });

    test('cancel then close at once: no slot or poller interest is left for the reused fd number', async () => {
      await run(async () => {
        const loop = getRunningLoop();
        const [client, conn] = await tcpPair(loop);
        const fd = conn.fd;
        const r = loop.sockRecv(conn, 1);
        r.cancel(); // its done callback (which drops the reader) runs a pass later...
        conn.close(); // ...but the fd goes now
        assert.equal(loop._readers[fd], undefined);
        // The kernel hands out the lowest free number: open sockets until one gets `fd` again.
        const spare = [];
        let again = socket({ type: 'dgram' });
        while (again.fd !== fd && spare.length < 64) {
          spare.push(again);
          again = socket({ type: 'dgram' });
        }
        assert.equal(again.fd, fd, 'the fd number was reused');
        again.bind(['127.0.0.1', 0]);
        const got = loop.sockRecvfrom(again, 10); // a reader on the same number
        await sleep(0);
        const sender = socket({ type: 'dgram' });
        await loop.sockSendto(sender, Buffer.from('hi'), again.address());
        assert.equal((await got)[0].toString(), 'hi');
        for (const s of [sender, ...spare]) s.close();
        again.close();
        client.close();
      }, { backend });
    });

    test('a socket still open when its loop closes is closed with it (and a pending op with it)', async () => {
      const before = openFds();
      let kept;
      let made;
      await run(async () => {
        const loop = getRunningLoop();
        const [client, conn] = await tcpPair(loop);
        kept = [client, conn];
        made = socket({ type: 'dgram' });
        loop.sockRecv(conn, 10); // still waiting when run() closes the loop
      }, { backend });
      assert.equal(openFds(), before, 'every fd closed with the loop');
      for (const s of [...kept, made]) {
        assert.equal(s.isClosed(), true);
        assert.equal(s.fd, -1);
        s.close(); // idempotent
      }
    });
  });
}

describe('{ sock } in place of an address (asyncio sock=)', () => {
  // test_create_connection_sock: createConnection on a socket connected with sockConnect.
  test('createConnection({ sock }) against an HTTP server', async () => {
    const httpd = await httpServer([0, '127.0.0.1']);
    await run(async () => {
      const loop = getRunningLoop();
      const sock = socket();
      await loop.sockConnect(sock, httpd.address());
      const fd = sock.fd;
      const chunks = [];
      const done = loop.createFuture();
      class MyProto extends Protocol {
        connectionMade(t) {
          t.write(Buffer.from('GET / HTTP/1.0\r\nHost: example.com\r\n\r\n'));
        }
        dataReceived(d) {
          chunks.push(Buffer.from(d));
        }
        connectionLost() {
          done.setResult();
        }
      }
      const [transport, protocol] = await loop.createConnection(() => new MyProto(), { sock });
      assert.ok(protocol instanceof MyProto);
      assert.equal(transport.getExtraInfo('fd'), fd);
      assert.equal(sock.fd, -1, 'the transport owns the fd now');
      assert.throws(() => loop.sockRecv(sock, 1), { code: 'ERR_SOCKET_CLOSED' });
      await done;
      assert.match(Buffer.concat(chunks).toString(), /^HTTP\/1\.[01] 200 OK/);
    });
    await closeNode(httpd);
  });

  test('createServer({ sock }) and startServer(onClient, { sock }) serve on a bound socket; openConnection({ sock })', async () => {
    const before = openFds();
    await run(async () => {
      const loop = getRunningLoop();
      const bound = socket();
      bound.bind(['127.0.0.1', 0]);
      const server = await startServer(
        async (reader, writer) => {
          writer.write(await reader.readLine());
          writer.close();
        },
        { sock: bound, limit: 1024 },
      );
      assert.equal(bound.fd, -1);
      const port = server.address().port;
      const sock = socket();
      await loop.sockConnect(sock, ['127.0.0.1', port]);
      const [reader, writer] = await openConnection({ sock, limit: 1024 });
      writer.write(Buffer.from('over streams\n'));
      assert.equal((await reader.readLine()).toString(), 'over streams\n');
      writer.close();
      server.close();
      await server.waitClosed();

      const bound2 = socket();
      bound2.bind(['127.0.0.1', 0]);
      const echoed = loop.createFuture();
      const srv = await loop.createServer(
        () => ({
          connectionMade(t) {
            this.t = t;
          },
          dataReceived(d) {
            this.t.write(d);
            this.t.close();
          },
        }),
        null,
        undefined,
        { sock: bound2, backlog: 8 },
      );
      const c = socket();
      await loop.sockConnect(c, srv.address());
      await loop.sockSendall(c, Buffer.from('protocol'));
      echoed.setResult((await recvAll(loop, c)).toString());
      assert.equal(await echoed, 'protocol');
      c.close();
      srv.close();
      await srv.waitClosed();
    });
    assert.equal(openFds(), before, 'no fd leaked');
  });

  test('the Unix twins take { sock } too', async () => {
    const file = tmpPath('s.sock');
    await run(async () => {
      const loop = getRunningLoop();
      const bound = socket({ family: 'unix' });
      bound.bind(file);
      const server = await startUnixServer(async (reader, writer) => {
        writer.write(await reader.read(100));
        writer.close();
      }, { sock: bound });
      const sock = socket({ family: 'unix' });
      await loop.sockConnect(sock, file);
      const [reader, writer] = await openUnixConnection({ sock });
      writer.write(Buffer.from('unix'));
      assert.equal((await reader.read(100)).toString(), 'unix');
      writer.close();
      server.close();

      const bound2 = socket({ family: 'unix' });
      const file2 = tmpPath('t.sock');
      bound2.bind(file2);
      const srv = await loop.createUnixServer(() => new Protocol(), { sock: bound2 });
      const c = socket({ family: 'unix' });
      await loop.sockConnect(c, file2);
      const [t] = await loop.createUnixConnection(() => new Protocol(), { sock: c });
      assert.equal(t.getExtraInfo('peername').address, file2);
      t.close();
      srv.close();
    });
  });

  test('createDatagramEndpoint({ sock }) on a bound socket, and on a connected one', async () => {
    const before = openFds();
    await run(async () => {
      const loop = getRunningLoop();
      const bound = socket({ type: 'dgram' });
      bound.bind(['127.0.0.1', 0]);
      const addr = bound.address();
      const got = loop.createFuture();
      const [server] = await loop.createDatagramEndpoint(
        () => ({
          connectionMade(t) {
            this.t = t;
          },
          datagramReceived(data, from) {
            this.t.sendto(Buffer.concat([data, Buffer.from('!')]), from);
          },
        }),
        { sock: bound },
      );
      assert.equal(bound.fd, -1);
      const peer = socket({ type: 'dgram' });
      await loop.sockConnect(peer, addr);
      const [client] = await loop.createDatagramEndpoint(
        () => ({
          datagramReceived(data) {
            got.setResult(data.toString());
          },
        }),
        { sock: peer },
      );
      client.sendto(Buffer.from('hey')); // connected: no address needed
      assert.equal(await got, 'hey!');
      client.close();
      server.close();
      const tcp = socket();
      assert.throws(() => loop.createDatagramEndpoint(() => ({}), { sock: tcp }), { code: 'ERR_INVALID_ARG_VALUE' });
      assert.throws(() => loop.createDatagramEndpoint(() => ({}), { sock: socket({ type: 'dgram' }), localAddr: ['127.0.0.1', 0] }), { code: 'ERR_INVALID_ARG_VALUE' });
      tcp.close();
      await sleep(0);
    });
    assert.equal(openFds(), before, 'no fd leaked');
  });

  test('bad { sock }: wrong kind, closed, combined with an address, unconnected', async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const f = () => new Protocol();
      const udp = socket({ type: 'dgram' });
      const tcp = socket();
      const closed = socket();
      closed.close();
      assert.throws(() => loop.createConnection(f, { sock: 'nope' }), { code: 'ERR_INVALID_ARG_TYPE' });
      assert.throws(() => loop.createConnection(f, { sock: udp }), { code: 'ERR_INVALID_ARG_VALUE' });
      assert.throws(() => loop.createConnection(f, { sock: closed }), { code: 'ERR_SOCKET_CLOSED' });
      assert.throws(() => loop.createConnection(f, '127.0.0.1', 80, { sock: tcp }), { code: 'ERR_INVALID_ARG_VALUE' });
      assert.throws(() => loop.createConnection(f, { sock: tcp }, 80), { code: 'ERR_INVALID_ARG_VALUE' });
      assert.throws(() => loop.createConnection(f, { sock: tcp, localAddr: ['127.0.0.1', 0] }), { code: 'ERR_INVALID_ARG_VALUE' });
      assert.throws(() => loop.createServer(f, { sock: udp }), { code: 'ERR_INVALID_ARG_VALUE' });
      assert.throws(() => loop.createServer(f, { sock: tcp, reusePort: true }), { code: 'ERR_INVALID_ARG_VALUE' });
      assert.throws(() => loop.createUnixServer(f, { sock: tcp }), { code: 'ERR_INVALID_ARG_VALUE' });
      assert.throws(() => loop.createUnixConnection(f, { sock: tcp }), { code: 'ERR_INVALID_ARG_VALUE' });
      assert.throws(() => openConnection({ sock: udp }), { code: 'ERR_INVALID_ARG_VALUE' });
      assert.throws(() => startServer(() => {}, { sock: closed }), { code: 'ERR_SOCKET_CLOSED' });
      // Not connected: the OS error rejects, and the caller keeps the socket.
      await assert.rejects(loop.createConnection(f, { sock: tcp }), { code: 'ENOTCONN' });
      assert.equal(tcp.isClosed(), false);
      // A socket with a pending operation cannot be handed over.
      tcp.bind(['127.0.0.1', 0]);
      tcp.listen();
      const accepting = loop.sockAccept(tcp);
      assert.throws(() => loop.createServer(f, { sock: tcp }), { code: 'ERR_SOCKET_BUSY' });
      accepting.cancel();
      udp.close();
      tcp.close();
    });
  });
});

describe('bad input', () => {
  test('socket() options', () => {
    assert.throws(() => socket(null), { code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => socket('IPv4'), { code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => socket({ family: 'IPv5' }), { code: 'ERR_INVALID_ARG_VALUE' });
    assert.throws(() => socket({ family: 4 }), { code: 'ERR_INVALID_ARG_VALUE' });
    assert.throws(() => socket({ type: 'seqpacket' }), { code: 'ERR_INVALID_ARG_VALUE' });
  });

  test('Socket methods: wrong types and values, and every method on a closed socket', () => {
    const before = openFds();
    const s = socket();
    assert.throws(() => s.bind('127.0.0.1'), { code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => s.bind(['localhost', 0]), { code: 'ERR_INVALID_IP_ADDRESS' });
    assert.throws(() => s.bind(['127.0.0.1', 70000]), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => s.listen(-1), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => s.listen('5'), { code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => s.setOption('SO_NOPE', 1), { code: 'ERR_INVALID_ARG_VALUE' });
    assert.throws(() => s.setOption(5, 1), { code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => s.setOption('SO_REUSEADDR', '1'), { code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => s.getOption({}), { code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => s.shutdown('sideways'), { code: 'ERR_INVALID_ARG_VALUE' });
    assert.throws(() => s.remoteAddress(), { code: 'ENOTCONN' });
    s.setOption('SO_REUSEADDR', true);
    assert.equal(s.getOption('SO_REUSEADDR'), 1);
    assert.equal(s.getOption('SO_TYPE'), 1); // SOCK_STREAM
    const u = socket({ family: 'unix' });
    assert.throws(() => u.bind(['127.0.0.1', 0]), { code: 'ERR_INVALID_ARG_TYPE' });
    u.close();
    s.close();
    s[Symbol.dispose](); // idempotent, and what `using` calls
    for (const call of [
      () => s.bind(['127.0.0.1', 0]),
      () => s.listen(),
      () => s.setOption('SO_REUSEADDR', 1),
      () => s.getOption('SO_REUSEADDR'),
      () => s.address(),
      () => s.remoteAddress(),
      () => s.shutdown('both'),
    ]) {
      assert.throws(call, { code: 'ERR_SOCKET_CLOSED', message: 'Socket is closed' });
    }
    assert.equal(openFds(), before);
  });

  test('loop sock* methods: wrong types, bad sizes and addresses, closed sockets, closed loop', async () => {
    let loopRef;
    await run(async () => {
      const loop = getRunningLoop();
      loopRef = loop;
      const s = socket();
      const u = socket({ type: 'dgram' });
      const unix = socket({ family: 'unix' });
      for (const call of [
        () => loop.sockRecv(3, 10),
        () => loop.sockRecvInto({ fd: 3 }, Buffer.alloc(1)),
        () => loop.sockSendall(null, Buffer.alloc(1)),
        () => loop.sockConnect('127.0.0.1', 80),
        () => loop.sockAccept(undefined),
        () => loop.sockRecvfrom([], 10),
        () => loop.sockSendto(1, Buffer.alloc(1), ['127.0.0.1', 1]),
        () => loop.sockRecv(s, '10'),
        () => loop.sockRecvInto(s, 'buffer'),
        () => loop.sockRecvInto(s, [1, 2]),
        () => loop.sockSendall(s, 'text'),
        () => loop.sockSendto(u, 'text', ['127.0.0.1', 1]),
        () => loop.sockConnect(s, '127.0.0.1:80'),
        () => loop.sockConnect(s, { host: '127.0.0.1', port: 80 }),
        () => loop.sockConnect(unix, ['127.0.0.1', 80]),
        () => loop.sockSendto(u, Buffer.alloc(1), null),
      ]) {
        assert.throws(call, { code: 'ERR_INVALID_ARG_TYPE' });
      }
      for (const call of [
        () => loop.sockRecv(s, -1),
        () => loop.sockRecv(s, 1.5),
        () => loop.sockRecvfrom(u, 0),
        () => loop.sockConnect(s, ['127.0.0.1', -1]),
        () => loop.sockSendto(u, Buffer.alloc(1), ['127.0.0.1', 65536]),
      ]) {
        assert.throws(call, { code: 'ERR_OUT_OF_RANGE' });
      }
      // OS errors reject the Future (a stream socket that is not connected).
      await assert.rejects(loop.sockRecv(s, 1), { code: 'ENOTCONN' });
      await assert.rejects(loop.sockSendall(s, Buffer.from('x')), (err) => err.code === 'EPIPE' || err.code === 'ENOTCONN');
      await assert.rejects(loop.sockAccept(s), { code: 'EINVAL' });
      // Zero-length reads and writes complete at once.
      assert.equal((await loop.sockRecv(s, 0)).length, 0);
      assert.equal(await loop.sockRecvInto(s, Buffer.alloc(0)), 0);
      s.close();
      u.close();
      unix.close();
      for (const call of [
        () => loop.sockRecv(s, 10),
        () => loop.sockRecvInto(s, Buffer.alloc(1)),
        () => loop.sockSendall(s, Buffer.alloc(1)),
        () => loop.sockConnect(s, ['127.0.0.1', 80]),
        () => loop.sockAccept(s),
        () => loop.sockRecvfrom(u, 10),
        () => loop.sockSendto(u, Buffer.alloc(1), ['127.0.0.1', 80]),
      ]) {
        assert.throws(call, { code: 'ERR_SOCKET_CLOSED' });
      }
    });
    const s = socket();
    assert.throws(() => loopRef.sockRecv(s, 1), { code: 'ERR_LOOP_CLOSED' });
    s.close();
  });

  test('select: an fd past FD_SETSIZE rejects the waiting operation (ERR_OUT_OF_RANGE) and frees its side', async () => {
    await run(async () => {
      const loop = getRunningLoop();
      // The poller (and select's wake pipe, which must sit below FD_SETSIZE too) exists first.
      const low = socket({ type: 'dgram' });
      low.bind(['127.0.0.1', 0]);
      loop.sockRecvfrom(low, 1).cancel();
      const held = [low];
      let high = socket({ type: 'dgram' });
      while (high.fd < 1024) {
        held.push(high);
        high = socket({ type: 'dgram' });
      }
      high.bind(['127.0.0.1', 0]);
      await assert.rejects(loop.sockRecvfrom(high, 10), { code: 'ERR_OUT_OF_RANGE' });
      await assert.rejects(loop.sockRecvfrom(high, 10), { code: 'ERR_OUT_OF_RANGE' }, 'not ERR_SOCKET_BUSY');
      for (const s of [high, ...held]) s.close();
    }, { backend: 'select' });
  });

  test('fd-leak check: open, connect, cancel, fail and close 200 sockets', async () => {
    const before = openFds();
    await run(async () => {
      const loop = getRunningLoop();
      const listener = socket();
      listener.bind(['127.0.0.1', 0]);
      listener.listen(256);
      for (let i = 0; i < 50; i++) {
        const [c, a] = [socket(), loop.sockAccept(listener)];
        await loop.sockConnect(c, listener.address());
        const [conn] = await a;
        const r = loop.sockRecv(conn, 1);
        r.cancel();
        c.close();
        conn.close();
        const refused = socket();
        await loop.sockConnect(refused, ['127.0.0.1', 1]).then(
          () => assert.fail('connected to port 1'),
          (err) => assert.equal(err.code, 'ECONNREFUSED'),
        );
        refused.close();
        socket({ type: 'dgram' }); // never closed by hand: the loop closes it
      }
      listener.close();
    });
    assert.equal(openFds(), before);
  });
});

describe('OS errors name the address, as Node does', () => {
  test('sockConnect refused, bind in use, a Unix path that does not exist', async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const holder = socket({ family: 'IPv4', type: 'stream' });
      holder.bind(['127.0.0.1', 0]);
      holder.listen();
      const { port } = holder.address();

      const taken = socket({ family: 'IPv4', type: 'stream' });
      assert.throws(() => taken.bind(['127.0.0.1', port]), { code: 'EADDRINUSE', message: `bind EADDRINUSE 127.0.0.1:${port}`, address: '127.0.0.1', port });
      taken.close();

      holder.close(); // nothing listens there any more
      const refused = socket({ family: 'IPv4', type: 'stream' });
      await assert.rejects(loop.sockConnect(refused, ['127.0.0.1', port]), { code: 'ECONNREFUSED', message: `connect ECONNREFUSED 127.0.0.1:${port}`, address: '127.0.0.1', port });
      refused.close();

      const missing = path.join(os.tmpdir(), `evloop-nobody-${process.pid}.sock`);
      const unix = socket({ family: 'unix', type: 'stream' });
      await assert.rejects(loop.sockConnect(unix, missing), { code: 'ENOENT', message: `connect ENOENT ${missing}`, path: missing });
      unix.close();
    });
  });
});
