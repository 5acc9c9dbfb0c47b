'use strict';
// Non-blocking socket calls of the native addon, on real sockets (127.0.0.1, ::1, Unix paths).
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const {
  binding, READ, WRITE, openFdCount, tcpPair, assertWait, closeAll,
} = require('../helpers/native-util');

let baselineFds;
before(() => {
  baselineFds = openFdCount();
});
after(() => {
  assert.equal(openFdCount(), baselineFds, 'every fd the suite opened is closed again');
});

// Reads until `length` bytes arrived (waiting for READ in between).
function recvExactly(fd, length) {
  const p = new binding.Poller('poll');
  p.add(fd, READ);
  const buf = Buffer.alloc(length);
  let got = 0;
  try {
    while (got < length) {
      const n = binding.recv(fd, buf, got, length - got);
      if (n === 0) break;
      if (n === -1) assertWait(p, 5000);
      else got += n;
    }
  } finally {
    p.close();
  }
  return buf.subarray(0, got);
}

function ipv6Available() {
  const fd = binding.socket('inet6', 'stream');
  try {
    binding.bind(fd, '::1', 0);
    return true;
  } catch (err) {
    if (['EADDRNOTAVAIL', 'EAFNOSUPPORT'].includes(err.code)) return false;
    throw err;
  } finally {
    binding.close(fd);
  }
}

describe('TCP', () => {
  it('IPv4: connect, accept, send/recv, addresses', () => {
    const [listener, client, conn] = tcpPair('inet', '127.0.0.1');
    const local = binding.getsockname(listener);
    assert.equal(local.address, '127.0.0.1');
    assert.equal(local.family, 'IPv4');
    assert.ok(local.port > 0);
    assert.deepEqual(binding.getpeername(client), local);
    assert.deepEqual(binding.getpeername(conn), binding.getsockname(client));
    assert.equal(binding.send(client, Buffer.from('ping'), 0, 4), 4);
    assert.equal(recvExactly(conn, 4).toString(), 'ping');
    closeAll(listener, client, conn);
  });

  it('IPv6 on ::1 (skipped only when ::1 cannot be bound)', (t) => {
    if (!ipv6Available()) {
      t.skip('IPv6 loopback unavailable: binding ::1 failed');
      return;
    }
    const [listener, client, conn] = tcpPair('inet6', '::1');
    const local = binding.getsockname(listener);
    assert.deepEqual({ address: local.address, family: local.family }, { address: '::1', family: 'IPv6' });
    assert.equal(binding.getpeername(client).port, local.port);
    binding.send(conn, Buffer.from('v6'), 0, 2);
    assert.equal(recvExactly(client, 2).toString(), 'v6');
    closeAll(listener, client, conn);
  });

  it('accept returns -1 when nothing is pending', () => {
    const listener = binding.socket('inet', 'stream');
    binding.bind(listener, '127.0.0.1', 0);
    binding.listen(listener, 4);
    assert.equal(binding.accept(listener), -1);
    closeAll(listener);
  });

  it('connect in progress, then finishConnect; recv would-block is -1', () => {
    const listener = binding.socket('inet', 'stream');
    binding.bind(listener, '127.0.0.1', 0);
    binding.listen(listener, 4);
    const client = binding.socket('inet', 'stream');
    const r = binding.connect(client, '127.0.0.1', binding.getsockname(listener).port);
    assert.ok(r === 0 || r === 1);
    const p = new binding.Poller(binding.backends[0]);
    p.add(client, WRITE);
    assertWait(p, 5000);
    assert.equal(binding.finishConnect(client), undefined);
    assert.equal(binding.recv(client, Buffer.alloc(8), 0, 8), -1);
    p.close();
    closeAll(listener, client);
  });

  it('ECONNREFUSED carries .code, .errno, .syscall and the message', () => {
    const probe = binding.socket('inet', 'stream');
    binding.bind(probe, '127.0.0.1', 0);
    const { port } = binding.getsockname(probe); // bound, never listening: refuses
    const client = binding.socket('inet', 'stream');
    let error;
    try {
      if (binding.connect(client, '127.0.0.1', port) === 0) {
        const p = new binding.Poller(binding.backends[0]);
        p.add(client, WRITE);
        assertWait(p, 5000);
        p.close();
        binding.finishConnect(client);
      }
    } catch (err) {
      error = err;
    }
    assert.ok(error instanceof Error);
    assert.equal(error.code, 'ECONNREFUSED');
    assert.equal(error.errno, -111);
    assert.equal(error.syscall, 'connect');
    assert.equal(error.message, 'connect ECONNREFUSED');
    assert.equal(binding.errname(-111), 'ECONNREFUSED');
    closeAll(probe, client);
  });

  it('recv into offset/length; send with offset; writev', () => {
    const [listener, client, conn] = tcpPair();
    binding.send(client, Buffer.from('xxABCDyy'), 2, 4);
    const p = new binding.Poller('poll');
    p.add(conn, READ);
    assertWait(p, 5000);
    const buf = Buffer.alloc(10, '.');
    assert.equal(binding.recv(conn, buf, 3, 4), 4);
    assert.equal(buf.toString(), '...ABCD...');
    const parts = [Buffer.from('one,'), new Uint8Array([116, 119, 111, 44]), Buffer.from('three')];
    assert.equal(binding.writev(client, parts), 13);
    assert.equal(binding.writev(client, []), 0);
    assert.equal(recvExactly(conn, 13).toString(), 'one,two,three');
    p.close();
    closeAll(listener, client, conn);
  });

  it('shutdown(fd, 1) is EOF for the peer, which can still answer', () => {
    const [listener, client, conn] = tcpPair();
    binding.send(client, Buffer.from('last'), 0, 4);
    binding.shutdown(client, 1);
    assert.equal(recvExactly(conn, 10).toString(), 'last'); // then 0 = EOF
    assert.equal(binding.recv(conn, Buffer.alloc(4), 0, 4), 0);
    binding.send(conn, Buffer.from('reply'), 0, 5);
    assert.equal(recvExactly(client, 5).toString(), 'reply');
    closeAll(listener, client, conn);
  });

  it('get/setsockopt for every option', () => {
    const tcp = binding.socket('inet', 'stream');
    const udp = binding.socket('inet', 'dgram');
    for (const [name, fd] of [['TCP_NODELAY', tcp], ['SO_REUSEADDR', tcp], ['SO_REUSEPORT', tcp],
      ['SO_KEEPALIVE', tcp], ['SO_BROADCAST', udp]]) {
      binding.setsockopt(fd, name, true);
      assert.equal(binding.getsockopt(fd, name), 1, name);
      binding.setsockopt(fd, name, 0);
      assert.equal(binding.getsockopt(fd, name), 0, name);
    }
    for (const name of ['SO_RCVBUF', 'SO_SNDBUF']) {
      binding.setsockopt(tcp, name, 65536);
      assert.ok(binding.getsockopt(tcp, name) >= 65536, name);
    }
    assert.equal(binding.getsockopt(tcp, 'SO_LINGER'), -1);
    binding.setsockopt(tcp, 'SO_LINGER', 5);
    assert.equal(binding.getsockopt(tcp, 'SO_LINGER'), 5);
    binding.setsockopt(tcp, 'SO_LINGER', false);
    assert.equal(binding.getsockopt(tcp, 'SO_LINGER'), -1);
    assert.equal(binding.getsockopt(tcp, 'SO_ERROR'), 0);
    assert.equal(binding.getsockopt(tcp, 'SO_TYPE'), 1); // SOCK_STREAM
    assert.equal(binding.getsockopt(udp, 'SO_TYPE'), 2); // SOCK_DGRAM
    assert.throws(() => binding.setsockopt(tcp, 'SO_TYPE', 1), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
    const v6 = binding.socket('inet6', 'stream');
    binding.setsockopt(v6, 'IPV6_V6ONLY', 1);
    assert.equal(binding.getsockopt(v6, 'IPV6_V6ONLY'), 1);
    binding.setsockopt(v6, 'IPV6_V6ONLY', false);
    assert.equal(binding.getsockopt(v6, 'IPV6_V6ONLY'), 0);
    closeAll(tcp, udp, v6);
  });

  it('writing to a vanished peer throws EPIPE, never raises SIGPIPE', async () => {
    let sigpipe = 0;
    const onSigpipe = () => { sigpipe++; };
    process.on('SIGPIPE', onSigpipe);
    try {
      const [a, b] = binding.socketpair('stream');
      binding.close(b);
      assert.throws(() => binding.send(a, Buffer.from('x'), 0, 1), { code: 'EPIPE', syscall: 'send' });
      assert.throws(() => binding.writev(a, [Buffer.from('x')]), { code: 'EPIPE', syscall: 'writev' });
      closeAll(a);
      // A raised signal would be dispatched by the loop's next turns.
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(sigpipe, 0);
    } finally {
      process.off('SIGPIPE', onSigpipe);
    }
  });
});

describe('UDP', () => {
  it('sendto / recvfrom with addresses; -1 when nothing is queued', () => {
    const server = binding.socket('inet', 'dgram');
    binding.bind(server, '127.0.0.1', 0);
    const { port } = binding.getsockname(server);
    const client = binding.socket('inet', 'dgram');
    binding.bind(client, '127.0.0.1', 0);
    const buf = Buffer.alloc(16);
    assert.equal(binding.recvfrom(server, buf, 0, 16), -1);
    assert.equal(binding.sendto(client, Buffer.from('datagram'), 0, 8, '127.0.0.1', port), 8);
    const p = new binding.Poller('poll');
    p.add(server, READ);
    assertWait(p, 5000);
    const got = binding.recvfrom(server, buf, 2, 14);
    assert.deepEqual(got, { address: '127.0.0.1', family: 'IPv4', port: binding.getsockname(client).port, bytes: 8 });
    assert.equal(buf.subarray(2, 10).toString(), 'datagram');
    // Connected: sendto without an address.
    binding.connect(client, '127.0.0.1', port);
    assert.equal(binding.sendto(client, Buffer.from('again'), 0, 5), 5);
    assertWait(p, 5000);
    assert.equal(binding.recvfrom(server, buf, 0, 16).bytes, 5);
    p.close();
    closeAll(server, client);
  });
});

describe('Unix sockets', () => {
  it('stream: bindUnix, listen, connectUnix, accept, addresses', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evloop-native-'));
    const sockPath = path.join(dir, 's.sock');
    try {
      const listener = binding.socket('unix', 'stream');
      binding.bindUnix(listener, sockPath);
      binding.listen(listener, 8);
      assert.deepEqual(binding.getsockname(listener), { address: sockPath, family: 'unix', port: 0 });
      const client = binding.socket('unix', 'stream');
      const r = binding.connectUnix(client, sockPath);
      assert.ok(r === 0 || r === 1);
      const p = new binding.Poller('poll');
      p.add(listener, READ);
      assertWait(p, 5000);
      const conn = binding.accept(listener);
      assert.ok(conn >= 0);
      assert.deepEqual(binding.getpeername(client), { address: sockPath, family: 'unix', port: 0 });
      binding.send(client, Buffer.from('unix!'), 0, 5);
      assert.equal(recvExactly(conn, 5).toString(), 'unix!');
      p.close();
      closeAll(listener, client, conn);
      const orphan = binding.socket('unix', 'stream');
      assert.throws(() => binding.connectUnix(orphan, path.join(dir, 'none')),
        { code: 'ENOENT', syscall: 'connect' });
      closeAll(orphan);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('socketpair dgram keeps message boundaries', () => {
    const [a, b] = binding.socketpair('dgram');
    binding.send(a, Buffer.from('one'), 0, 3);
    binding.send(a, Buffer.from('two!'), 0, 4);
    const buf = Buffer.alloc(16);
    assert.equal(binding.recv(b, buf, 0, 16), 3);
    assert.equal(binding.recv(b, buf, 0, 16), 4);
    closeAll(a, b);
  });
});

// sendBatch: the loop's end-of-pass sends, one crossing for many fds (native/README.md).
describe('sendBatch', () => {
  const { READ_WOULD_BLOCK } = binding.constants;
  const ops = (...entries) => Int32Array.from(entries.flatMap((e) => [...e, 0]));

  it('sends every entry in order on its own fd and says how many did not go whole', () => {
    const [a1, b1] = binding.socketpair('stream');
    const [a2, b2] = binding.socketpair('stream');
    const buf = Buffer.from('hello world, and more');
    // a1 gets two entries (order kept), a2 one; the withdrawn entry (fd -1) sends nothing.
    const o = ops([a1, 0, 5], [a2, 6, 5], [-1, 0, 21], [a1, 5, 6]);
    assert.equal(binding.sendBatch(buf, o, 4), 0);
    assert.deepEqual([o[3], o[7], o[11], o[15]], [5, 5, 21, 6]);
    const got = Buffer.alloc(64);
    assert.equal(binding.recv(b1, got, 0, 64), 11);
    assert.equal(got.toString('latin1', 0, 11), 'hello world');
    assert.equal(binding.recv(b2, got, 0, 64), 5);
    assert.equal(got.toString('latin1', 0, 5), 'world');
    closeAll(a1, b1, a2, b2);
  });

  it('reports a full socket as READ_WOULD_BLOCK or a short count, and a foreign fd as -EBADF, as values', () => {
    const [a, b] = binding.socketpair('stream');
    const chunk = Buffer.alloc(64 * 1024, 1);
    while (binding.send(a, chunk, 0, chunk.length) > 0);
    const buf = Buffer.alloc(100, 2);
    // fd 1 is Node's stdout: never ours, so never touched.
    const o = ops([a, 0, 100], [1, 0, 100]);
    assert.equal(binding.sendBatch(buf, o, 2), 2);
    assert.equal(o[3], READ_WOULD_BLOCK);
    assert.equal(o[7], -os.constants.errno.EBADF);
    closeAll(a, b);
  });

  it('takes the ArrayBuffers under buf and ops as well (what the loop passes)', () => {
    const [a, b] = binding.socketpair('stream');
    const bytes = new ArrayBuffer(16);
    Buffer.from(bytes).write('abcdefgh', 'latin1');
    const o = ops([a, 2, 3], [a, 0, 2]);
    assert.equal(binding.sendBatch(bytes, o.buffer, 2), 0);
    assert.deepEqual([o[3], o[7]], [3, 2]);
    const got = Buffer.alloc(8);
    assert.equal(binding.recv(b, got, 0, 8), 5);
    assert.equal(got.toString('latin1', 0, 5), 'cdeab');
    // An ArrayBuffer of ops holds byteLength / 16 entries; a window outside buf sends nothing.
    assert.throws(() => binding.sendBatch(bytes, new ArrayBuffer(16), 2), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => binding.sendBatch(bytes, ops([a, 10, 7]).buffer, 1), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => binding.sendBatch(new SharedArrayBuffer(8), o.buffer, 1), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    assert.equal(binding.recv(b, got, 0, 8), -1, 'nothing more was sent');
    closeAll(a, b);
  });

  it('writes an owned pipe with write(2)', () => {
    const [r, w] = binding.pipe();
    const o = ops([w, 0, 4]);
    assert.equal(binding.sendBatch(Buffer.from('pipe'), o, 1), 0);
    const got = Buffer.alloc(8);
    assert.equal(binding.read(r, got, 0, 8), 4);
    assert.equal(got.toString('latin1', 0, 4), 'pipe');
    closeAll(r, w);
  });

  it('rejects bad arguments before sending anything', () => {
    const [a, b] = binding.socketpair('stream');
    const buf = Buffer.from('abcdef');
    assert.throws(() => binding.sendBatch('abc', ops([a, 0, 1]), 1), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => binding.sendBatch(buf, [a, 0, 1, 0], 1), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => binding.sendBatch(buf, ops([a, 0, 1]), 2), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => binding.sendBatch(buf, ops([a, 0, 1]), -1), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    // The first entry is good, the second leaves buf: neither is sent.
    assert.throws(() => binding.sendBatch(buf, ops([a, 0, 1], [a, 4, 3]), 2), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => binding.sendBatch(buf, ops([a, -1, 1]), 1), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    assert.equal(binding.recv(b, Buffer.alloc(8), 0, 8), -1, 'nothing was sent');
    assert.equal(binding.sendBatch(buf, new Int32Array(0), 0), 0);
    closeAll(a, b);
  });
});
