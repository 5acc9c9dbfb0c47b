'use strict';
// Bad input to the native addon: always a clear TypeError / RangeError / errno Error, never a
// crash, a hang, a leaked fd, or a touched fd the addon does not own.
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const { binding, READ, openFdCount, closeAll } = require('../helpers/native-util');

let baselineFds;
before(() => {
  baselineFds = openFdCount();
});
after(() => {
  assert.equal(openFdCount(), baselineFds, 'every fd the suite opened is closed again');
});

const typeError = (code = 'ERR_INVALID_ARG_TYPE') => ({ name: 'TypeError', code });
const rangeError = (code = 'ERR_OUT_OF_RANGE') => ({ name: 'RangeError', code });

describe('sockets', () => {
  it('socket / socketpair reject unknown domains and types', () => {
    assert.throws(() => binding.socket('inet9', 'stream'), typeError('ERR_INVALID_ARG_VALUE'));
    assert.throws(() => binding.socket('inet', 'raw'), typeError('ERR_INVALID_ARG_VALUE'));
    assert.throws(() => binding.socket(), typeError('ERR_INVALID_ARG_VALUE'));
    assert.throws(() => binding.socketpair(1), typeError('ERR_INVALID_ARG_VALUE'));
  });

  it('fd arguments must be non-negative integers', () => {
    for (const fd of ['3', null, undefined, {}, -1, 1.5, NaN, 2 ** 40]) {
      assert.throws(() => binding.recv(fd, Buffer.alloc(1), 0, 1), typeError(), String(fd));
      assert.throws(() => binding.close(fd), typeError(), String(fd));
    }
  });

  it('never touches fds it does not own (0, 1, 2, unknown)', () => {
    for (const fd of [0, 1, 2, 999999]) {
      assert.throws(() => binding.close(fd), { code: 'EBADF', syscall: 'close', errno: -9 });
      assert.throws(() => binding.send(fd, Buffer.from('x'), 0, 1), { code: 'EBADF' });
      assert.throws(() => binding.shutdown(fd, 2), { code: 'EBADF' });
      assert.throws(() => binding.getsockname(fd), { code: 'EBADF' });
    }
    for (const fd of [0, 1, 2]) fs.fstatSync(fd); // still open
  });

  it('double close is EBADF', () => {
    const fd = binding.socket('inet', 'stream');
    binding.close(fd);
    assert.throws(() => binding.close(fd), { code: 'EBADF', message: 'close EBADF' });
  });

  it('buffers, offsets and lengths are checked', () => {
    const [a, b] = binding.socketpair('stream');
    const buf = Buffer.alloc(10);
    assert.throws(() => binding.recv(a, 'nope', 0, 1), typeError());
    assert.throws(() => binding.recv(a, new Uint16Array(4), 0, 1), typeError());
    assert.throws(() => binding.send(a, [1, 2], 0, 1), typeError());
    assert.throws(() => binding.recv(a, buf, -1, 1), rangeError());
    assert.throws(() => binding.recv(a, buf, 11, 0), rangeError());
    assert.throws(() => binding.recv(a, buf, 0, 11), rangeError());
    assert.throws(() => binding.recv(a, buf, 5, 6), rangeError());
    assert.throws(() => binding.recv(a, buf, 1.5, 1), rangeError());
    assert.throws(() => binding.send(a, buf, 0, -1), rangeError());
    assert.throws(() => binding.send(a, buf, '0', 1), typeError());
    assert.throws(() => binding.recvfrom(a, buf, 0, 2 ** 33), rangeError());
    assert.throws(() => binding.writev(a, 'x'), typeError());
    assert.throws(() => binding.writev(a, [Buffer.from('x'), 7]), typeError());
    // Nothing of the above reached the socket.
    assert.equal(binding.recv(b, buf, 0, 10), -1);
    closeAll(a, b);
  });

  it('addresses, ports, paths, options and how are checked', () => {
    const fd = binding.socket('inet', 'stream');
    const v6 = binding.socket('inet6', 'dgram');
    assert.throws(() => binding.bind(fd, 'localhost', 0), typeError('ERR_INVALID_IP_ADDRESS'));
    assert.throws(() => binding.bind(fd, '127.0.0.256', 0), typeError('ERR_INVALID_IP_ADDRESS'));
    assert.throws(() => binding.bind(fd, 127, 0), typeError());
    assert.throws(() => binding.bind(fd, '127.0.0.1', 70000), rangeError('ERR_SOCKET_BAD_PORT'));
    assert.throws(() => binding.bind(fd, '127.0.0.1', -1), rangeError('ERR_SOCKET_BAD_PORT'));
    assert.throws(() => binding.bind(fd, '::1', 0), { code: 'EAFNOSUPPORT', syscall: 'bind' });
    assert.throws(() => binding.sendto(v6, Buffer.from('x'), 0, 1, 'nope', 1), typeError('ERR_INVALID_IP_ADDRESS'));
    assert.throws(() => binding.bindUnix(fd, 'x'.repeat(200)), { code: 'ENAMETOOLONG' });
    assert.throws(() => binding.bindUnix(fd, 'a\0b'), typeError('ERR_INVALID_ARG_VALUE'));
    assert.throws(() => binding.setsockopt(fd, 'SO_NOPE', 1), typeError('ERR_INVALID_ARG_VALUE'));
    assert.throws(() => binding.getsockopt(fd, 42), typeError());
    assert.throws(() => binding.setsockopt(fd, 'TCP_NODELAY', 'yes'), typeError());
    assert.throws(() => binding.shutdown(fd, 3), rangeError());
    assert.throws(() => binding.errname('x'), typeError());
    closeAll(fd, v6);
  });
});

describe('Poller', () => {
  it('construction needs new and a backend name', () => {
    assert.throws(() => binding.Poller('epoll'), TypeError);
    assert.throws(() => new binding.Poller(42), typeError('ERR_INVALID_ARG_VALUE'));
  });

  for (const backend of binding.backends) {
    it(`${backend}: bad fds, masks, timeouts and callbacks`, () => {
      const p = new binding.Poller(backend);
      const [a, b] = binding.socketpair('stream');
      for (const fd of [-1, 1.5, '3', null, undefined]) {
        assert.throws(() => p.add(fd, READ), typeError(), String(fd));
      }
      for (const events of [0, 4, 8, -1, 1.5]) {
        assert.throws(() => p.add(a, events), rangeError(), String(events));
      }
      assert.throws(() => p.add(a, 'r'), typeError());
      assert.throws(() => p.add(999999, READ),
        backend === 'select' ? rangeError() : { code: 'EBADF' });
      assert.throws(() => p.remove(a), { code: 'ENOENT' });
      assert.throws(() => p.modify(a, READ), { code: 'ENOENT' });
      assert.throws(() => p.wait('soon'), typeError());
      assert.throws(() => p.wait(NaN), typeError('ERR_INVALID_ARG_VALUE'));
      assert.throws(() => p.start(), typeError());
      assert.throws(() => p.start('fn'), typeError());
      assert.equal(p.size, 0);
      p.close();
      assert.throws(() => p.add(a, READ), { code: 'ERR_SELECTOR_CLOSED' });
      assert.throws(() => p.wait(0), { code: 'ERR_SELECTOR_CLOSED' });
      closeAll(a, b);
    });
  }
});
