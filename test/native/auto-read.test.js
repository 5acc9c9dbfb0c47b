'use strict';
// The Poller's auto-read: fds registered with AUTO_READ are read into the JS-owned slab during
// the batch, and `.reads` says (offset, length | 0 | -errno | READ_WOULD_BLOCK | READ_NOT_DONE)
// per entry. One suite run against every backend this platform has.
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const { binding, READ, WRITE, openFdCount, tcpPair, closeAll } = require('../helpers/native-util');

const { AUTO_READ, READ_NOT_DONE } = binding.constants;
const CURSOR = 2048; // reads[2 * capacity]

let baselineFds;
before(() => {
  baselineFds = openFdCount();
});
after(() => {
  assert.equal(openFdCount(), baselineFds, 'every fd the suite opened is closed again');
});

// One wait; the entries as a Map fd -> { events, offset, length }.
function batch(poller, timeoutMs = 1000) {
  const n = poller.wait(timeoutMs);
  const map = new Map();
  for (let i = 0; i < n; i++) {
    map.set(poller.events[2 * i], { events: poller.events[2 * i + 1], offset: poller.reads[2 * i], length: poller.reads[2 * i + 1] });
  }
  return map;
}

it('errnoError builds the error a failing call would throw, for either sign', () => {
  const err = binding.errnoError(-104, 'read');
  assert.ok(err instanceof Error);
  assert.equal(err.syscall, 'read');
  assert.equal(err.errno, process.platform === 'linux' ? -104 : err.errno);
  if (process.platform === 'linux') assert.equal(err.code, 'ECONNRESET');
  assert.equal(binding.errnoError(104, 'read').code, err.code);
  assert.throws(() => binding.errnoError('x', 'read'), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => binding.errnoError(1, 42), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
});

for (const backend of binding.backends) {
  describe(`Poller(${backend}) auto-read`, () => {
    it('has a fixed .reads array: two slots per entry plus the slab cursor', () => {
      const p = new binding.Poller(backend);
      assert.ok(p.reads instanceof Int32Array);
      assert.equal(p.reads.length, 2 * p.capacity + 1);
      assert.equal(p.reads, p.reads);
      p.close();
    });

    it('reads ready auto-read fds into the slab, one after another; others are READ_NOT_DONE', () => {
      const p = new binding.Poller(backend);
      const slab = Buffer.alloc(1024);
      p.setReadSlab(slab, 16, 100);
      const [a, b] = binding.socketpair('stream');
      const [c, d] = binding.socketpair('stream');
      p.add(a, READ | AUTO_READ);
      p.add(c, READ);
      binding.send(b, Buffer.from('hello'), 0, 5);
      binding.send(d, Buffer.from('plain'), 0, 5);
      let got = batch(p);
      assert.deepEqual(got.get(a), { events: READ, offset: 0, length: 5 });
      assert.equal(got.get(c).length, READ_NOT_DONE);
      assert.equal(slab.toString('latin1', 0, 5), 'hello');
      assert.equal(p.reads[CURSOR], 5);
      // c was not read: its data is still in the kernel.
      assert.equal(binding.recv(c, Buffer.alloc(8), 0, 8), 5);
      // Nothing left on a: not reported again (level-triggered, and it was drained).
      assert.equal(p.wait(0), 0);
      binding.send(b, Buffer.from('world!'), 0, 6);
      got = batch(p);
      assert.deepEqual(got.get(a), { events: READ, offset: 5, length: 6 });
      assert.equal(slab.toString('latin1', 0, 11), 'helloworld!');
      // A read takes at most maxRead bytes; the rest stays for the next batch.
      binding.send(b, Buffer.alloc(150, 7), 0, 150);
      assert.equal(batch(p).get(a).length, 100);
      assert.equal(batch(p).get(a).length, 50);
      assert.equal(p.reads[CURSOR], 161);
      p.close();
      closeAll(a, b, c, d);
    });

    it('with less than minRead left in the slab, or no slab, the entry is READ_NOT_DONE', () => {
      const p = new binding.Poller(backend);
      const [a, b] = binding.socketpair('stream');
      p.add(a, READ | AUTO_READ);
      binding.send(b, Buffer.from('abc'), 0, 3);
      assert.equal(batch(p).get(a).length, READ_NOT_DONE); // no slab yet
      p.setReadSlab(Buffer.alloc(10), 8, 8);
      assert.deepEqual(batch(p).get(a), { events: READ, offset: 0, length: 3 });
      binding.send(b, Buffer.from('defg'), 0, 4);
      assert.equal(batch(p).get(a).length, READ_NOT_DONE); // 7 left < minRead 8
      p.setReadSlab(null);
      assert.equal(batch(p).get(a).length, READ_NOT_DONE);
      const fresh = Buffer.alloc(64);
      p.setReadSlab(fresh, 1, 64);
      assert.equal(p.reads[CURSOR], 0);
      assert.deepEqual(batch(p).get(a), { events: READ, offset: 0, length: 4 });
      assert.equal(fresh.toString('latin1', 0, 4), 'defg');
      p.close();
      closeAll(a, b);
    });

    it('never writes to a slab that was transferred away or shrunk, nor to detached batch arrays', () => {
      const [a, b] = binding.socketpair('stream');
      let p = new binding.Poller(backend);
      p.add(a, READ | AUTO_READ);
      assert.throws(() => p.setReadSlab(new Uint8Array(new SharedArrayBuffer(64)), 1, 64), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
      // Transferred: the memory belongs to the receiver now.
      const slab = Buffer.alloc(64);
      p.setReadSlab(slab, 1, 64);
      const moved = structuredClone(slab.buffer, { transfer: [slab.buffer] });
      binding.send(b, Buffer.from('abc'), 0, 3);
      assert.equal(batch(p).get(a).length, READ_NOT_DONE);
      assert.deepEqual([...new Uint8Array(moved, 0, 3)], [0, 0, 0]);
      // Shrunk under a fixed-length view: the view's bytes are gone.
      const resizable = new ArrayBuffer(64, { maxByteLength: 64 });
      p.setReadSlab(new Uint8Array(resizable, 0, 64), 1, 64);
      resizable.resize(2);
      assert.equal(batch(p).get(a).length, READ_NOT_DONE);
      resizable.resize(64);
      assert.deepEqual(batch(p).get(a), { events: READ, offset: 0, length: 3 });
      assert.equal(Buffer.from(resizable, 0, 3).toString('latin1'), 'abc');
      // The batch arrays share one buffer; once it is detached nothing is written to it.
      binding.send(b, Buffer.from('def'), 0, 3);
      structuredClone(p.events.buffer, { transfer: [p.events.buffer] });
      assert.equal(p.reads.length, 0);
      assert.throws(() => p.wait(0), { code: 'ERR_INVALID_STATE' });
      p.close();
      // A fresh poller still finds the bytes in the kernel.
      p = new binding.Poller(backend);
      p.setReadSlab(Buffer.alloc(16), 1, 16);
      p.add(a, READ | AUTO_READ);
      assert.deepEqual(batch(p).get(a), { events: READ, offset: 0, length: 3 });
      p.close();
      closeAll(a, b);
    });

    it('bulk reads stay big: a 256 KiB read in one entry', () => {
      const p = new binding.Poller(backend);
      const slab = Buffer.alloc(512 * 1024);
      p.setReadSlab(slab, 64 * 1024, 256 * 1024);
      const [listener, client, conn] = tcpPair();
      binding.setsockopt(conn, 'SO_RCVBUF', 1 << 20);
      p.add(conn, READ | AUTO_READ);
      let sent = 0;
      const chunk = Buffer.alloc(64 * 1024, 1);
      for (let i = 0; i < 8; i++) {
        const n = binding.send(client, chunk, 0, chunk.length);
        if (n <= 0) break;
        sent += n;
      }
      assert.ok(sent >= 128 * 1024, `sent ${sent}`);
      let total = 0;
      let biggest = 0;
      while (total < sent) {
        const e = batch(p).get(conn);
        assert.ok(e.length > 0, `length ${e.length}`);
        total += e.length;
        biggest = Math.max(biggest, e.length);
      }
      assert.ok(biggest >= 64 * 1024, `biggest read ${biggest}`);
      p.close();
      closeAll(listener, client, conn);
    });

    it('EOF is length 0 and a reset is -errno, as values (no exception)', () => {
      const p = new binding.Poller(backend);
      p.setReadSlab(Buffer.alloc(256), 1, 256);
      const [a, b] = binding.socketpair('stream');
      p.add(a, READ | AUTO_READ);
      binding.close(b);
      assert.equal(batch(p).get(a).length, 0);
      const [listener, client, conn] = tcpPair();
      p.add(conn, READ | AUTO_READ);
      binding.setsockopt(client, 'SO_LINGER', 0);
      binding.close(client);
      const length = batch(p).get(conn).length;
      assert.ok(length < 0 && length !== READ_NOT_DONE, `length ${length}`);
      assert.equal(binding.errnoError(length, 'read').code, 'ECONNRESET');
      p.close();
      closeAll(a, listener, conn);
    });

    it('modify without AUTO_READ, remove, and binding.close stop the reads', () => {
      const p = new binding.Poller(backend);
      p.setReadSlab(Buffer.alloc(256), 1, 256);
      const [a, b] = binding.socketpair('stream');
      p.add(a, READ | AUTO_READ);
      p.modify(a, READ | WRITE);
      binding.send(b, Buffer.from('x'), 0, 1);
      assert.equal(batch(p).get(a).length, READ_NOT_DONE);
      p.modify(a, READ | WRITE | AUTO_READ);
      assert.equal(batch(p).get(a).length, 1);
      p.remove(a);
      p.add(a, READ);
      binding.send(b, Buffer.from('y'), 0, 1);
      assert.equal(batch(p).get(a).length, READ_NOT_DONE);
      assert.equal(binding.recv(a, Buffer.alloc(4), 0, 4), 1);
      p.modify(a, READ | AUTO_READ);
      binding.close(a); // forgets the fd, auto-read included
      const [c, d] = binding.socketpair('stream'); // may reuse a's number
      p.add(c, READ);
      binding.send(d, Buffer.from('z'), 0, 1);
      assert.equal(batch(p).get(c).length, READ_NOT_DONE);
      p.close();
      closeAll(b, c, d);
    });

    it('rejects bad input with codes', () => {
      const p = new binding.Poller(backend);
      const [a, b] = binding.socketpair('stream');
      assert.throws(() => p.add(a, AUTO_READ), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
      assert.throws(() => p.add(a, WRITE | AUTO_READ), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
      assert.throws(() => p.add(a, 4), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
      assert.throws(() => p.add(a, 32 | READ), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
      // Only fds this addon owns are read natively.
      const file = fs.openSync(__filename, 'r');
      try {
        assert.throws(() => p.add(file, READ | AUTO_READ), { code: 'EBADF' });
      } finally {
        fs.closeSync(file);
      }
      assert.equal(p.size, 0);
      assert.throws(() => p.setReadSlab('slab', 1, 2), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
      assert.throws(() => p.setReadSlab(Buffer.alloc(8)), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
      assert.throws(() => p.setReadSlab(Buffer.alloc(8), 0, 2), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
      assert.throws(() => p.setReadSlab(Buffer.alloc(8), 4, 2), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
      assert.throws(() => p.setReadSlab(Buffer.alloc(8), 1.5, 2), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
      p.close();
      assert.throws(() => p.setReadSlab(Buffer.alloc(8), 1, 2), { code: 'ERR_SELECTOR_CLOSED' });
      closeAll(a, b);
    });
  });
}
