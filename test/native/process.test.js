'use strict';
// Child processes and pipes of the native addon (native/process.cc), with real children:
// /bin/cat, /bin/sh -c, sleep. Exits are observed through the pidfd on a poller, never by
// sleeping; every test reaps what it spawns.
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const childProcess = require('child_process');
const { binding, READ, WRITE, openFdCount, assertWait, closeAll } = require('../helpers/native-util');

const PIPE = -1;
const INHERIT = -2;
const IGNORE = -3;
const TO_STDOUT = -4;

let baselineFds;
before(() => {
  baselineFds = openFdCount();
});
after(() => {
  assert.equal(openFdCount(), baselineFds, 'every fd the suite opened is closed again');
});

function spawn(file, args, { env = null, cwd = null, stdio = [PIPE, PIPE, PIPE] } = {}) {
  const [pid, pidfd, stdin, stdout, stderr] = binding.spawn(file, [file, ...args], env, cwd, stdio);
  return { pid, pidfd, stdin, stdout, stderr };
}

// Blocks (on a poller) until fd is readable.
function waitReadable(fd, timeoutMs = 10_000) {
  const p = new binding.Poller('poll');
  try {
    p.add(fd, READ);
    assertWait(p, timeoutMs);
  } finally {
    p.close();
  }
}

// Waits for the child's exit through its pidfd, reaps it and closes the pidfd.
function reap(child) {
  waitReadable(child.pidfd);
  const code = binding.waitChild(child.pid);
  assert.notEqual(code, null, 'a readable pidfd means the child has exited');
  binding.close(child.pidfd);
  return code;
}

// Reads fd to EOF.
function readAll(fd) {
  const chunks = [];
  const buf = Buffer.alloc(65536);
  for (;;) {
    const n = binding.read(fd, buf, 0, buf.length);
    if (n === 0) break;
    if (n === -1) waitReadable(fd);
    else chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  binding.close(fd);
  return Buffer.concat(chunks);
}

// Runs a child to completion: optional input on stdin, [returncode, stdout, stderr].
function run(file, args, opts = {}) {
  const child = spawn(file, args, opts);
  if (child.stdin !== -1) {
    if (opts.input) binding.write(child.stdin, opts.input);
    binding.close(child.stdin);
  }
  const out = child.stdout !== -1 ? readAll(child.stdout) : null;
  const err = child.stderr !== -1 ? readAll(child.stderr) : null;
  return [reap(child), out, err];
}

function isZombieOrGone(pid) {
  try {
    return /^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch (err) {
    if (err.code === 'ENOENT') return 'gone';
    throw err;
  }
}

describe('spawn', () => {
  it('cat echoes stdin to stdout; the pidfd turns readable at exit; returncode 0', () => {
    const child = spawn('cat', []);
    assert.ok(child.pid > 0);
    assert.ok(child.pidfd >= 0, 'Linux 5.3+ has pidfd_open');
    assert.equal(binding.waitChild(child.pid), null, 'still running');
    assert.equal(binding.write(child.stdin, Buffer.from('hello\n')), 6);
    binding.close(child.stdin);
    assert.equal(String(readAll(child.stdout)), 'hello\n');
    assert.equal(String(readAll(child.stderr)), '');
    assert.equal(reap(child), 0);
  });

  it('exit codes and deaths by signal (-signal)', () => {
    assert.equal(run('/bin/sh', ['-c', 'exit 3'])[0], 3);
    const child = spawn('sleep', ['30'], { stdio: [IGNORE, IGNORE, IGNORE] });
    binding.killChild(child.pid, os.constants.signals.SIGTERM);
    assert.equal(reap(child), -os.constants.signals.SIGTERM);
    const child2 = spawn('sleep', ['30'], { stdio: [IGNORE, IGNORE, IGNORE] });
    binding.killChild(child2.pid, os.constants.signals.SIGKILL);
    assert.equal(reap(child2), -9);
  });

  it('a reaped child can be neither waited for nor signalled again', () => {
    const child = spawn('/bin/sh', ['-c', 'exit 0'], { stdio: [IGNORE, IGNORE, IGNORE] });
    assert.equal(reap(child), 0);
    assert.throws(() => binding.waitChild(child.pid), { code: 'ECHILD', syscall: 'waitpid' });
    assert.throws(() => binding.killChild(child.pid, 15), { code: 'ESRCH', syscall: 'kill' });
    // Not ours at all: our own pid, init.
    assert.throws(() => binding.waitChild(process.pid), { code: 'ECHILD' });
    assert.throws(() => binding.killChild(1, 0), { code: 'ESRCH' });
  });

  it('a missing program is ENOENT, a non-executable file EACCES, a bad cwd a chdir error', () => {
    const before = openFdCount();
    assert.throws(() => spawn('no-such-program-evloop', []), {
      name: 'Error', code: 'ENOENT', syscall: 'spawn', errno: -os.constants.errno.ENOENT,
    });
    assert.throws(() => spawn('/no/such/dir/prog', []), { code: 'ENOENT', syscall: 'spawn' });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evloop-spawn-'));
    try {
      const script = path.join(dir, 'not-executable');
      fs.writeFileSync(script, '#!/bin/sh\nexit 0\n', { mode: 0o644 });
      assert.throws(() => spawn(script, []), { code: 'EACCES', syscall: 'spawn' });
      assert.throws(() => spawn('not-executable', [], { env: [`PATH=${dir}`] }), { code: 'EACCES' });
      assert.throws(() => spawn('/bin/true', [], { cwd: path.join(dir, 'missing') }), {
        code: 'ENOENT', syscall: 'chdir',
      });
      assert.throws(() => spawn('/bin/true', [], { cwd: script }), { code: 'ENOTDIR', syscall: 'chdir' });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    assert.equal(openFdCount(), before, 'a failed spawn closes the pipes it made');
  });

  it('cwd and env reach the child; PATH is looked up in the child env', () => {
    const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'evloop-cwd-')));
    try {
      const [code, out] = run('/bin/pwd', [], { cwd: dir });
      assert.equal(code, 0);
      assert.equal(String(out), `${dir}\n`);
      const tool = path.join(dir, 'evloop-hello');
      fs.writeFileSync(tool, '#!/bin/sh\necho "hello $WHO"\n', { mode: 0o755 });
      const [code2, out2] = run('evloop-hello', [], { env: [`PATH=${dir}`, 'WHO=world'] });
      assert.equal(code2, 0);
      assert.equal(String(out2), 'hello world\n');
      const [, out3] = run('/usr/bin/env', [], { env: ['A=1', 'B=two words'] });
      assert.equal(String(out3), 'A=1\nB=two words\n');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stdio: ignore is /dev/null, stderr can join stdout, a given fd is passed as is', () => {
    const [code, out] = run('cat', [], { stdio: [IGNORE, PIPE, INHERIT] });
    assert.equal(code, 0);
    assert.equal(out.length, 0, 'stdin from /dev/null is at EOF at once');
    const [, both, err] = run('/bin/sh', ['-c', 'echo out; echo err >&2; echo out2'], {
      stdio: [IGNORE, PIPE, TO_STDOUT],
    });
    assert.equal(String(both), 'out\nerr\nout2\n');
    assert.equal(err, null);
    const [r, w] = binding.pipe();
    const [code2] = run('/bin/sh', ['-c', 'echo via-fd'], { stdio: [IGNORE, w, INHERIT] });
    binding.close(w);
    assert.equal(code2, 0);
    assert.equal(String(readAll(r)), 'via-fd\n');
  });

  it('the child inherits no fd but 0, 1, 2 (everything here is close-on-exec)', () => {
    // Plenty of addon fds open at once: sockets, a pipe, a started poller, another child's pipes.
    const [sa, sb] = binding.socketpair('stream');
    const [pr, pw] = binding.pipe();
    const listener = binding.socket('inet', 'stream');
    const poller = new binding.Poller('epoll');
    poller.add(sa, READ);
    const other = spawn('cat', []);
    try {
      // ls opens the directory itself (the lowest free fd, 3) while listing it. Fds this process
      // got without close-on-exec from whoever started it are inherited by any child (Node's
      // too); none of them is ours.
      const inheritedFromOutside = fs.readdirSync('/proc/self/fd').map(Number).filter((fd) => {
        if (fd < 3) return false;
        try {
          const flags = parseInt(/^flags:\s+(\d+)/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))[1], 8);
          return (flags & 0o2000000) === 0;
        } catch {
          return false; // the directory handle readdirSync itself used
        }
      });
      const ours = [sa, sb, pr, pw, listener, other.stdin, other.stdout, other.stderr, other.pidfd];
      for (const fd of ours) assert.ok(!inheritedFromOutside.includes(fd));
      const [code, out] = run('/bin/ls', ['/proc/self/fd']);
      assert.equal(code, 0);
      assert.deepEqual(String(out).trim().split('\n').map(Number).sort((a, b) => a - b),
        [0, 1, 2, 3, ...inheritedFromOutside].sort((a, b) => a - b));
      // And stdio pipes in the child are blocking, as a program expects of its stdio.
      const [, info] = run('/bin/cat', ['/proc/self/fdinfo/0'], { input: Buffer.from('') });
      const flags = parseInt(/^flags:\s+(\d+)/m.exec(String(info))[1], 8);
      assert.equal(flags & fs.constants.O_NONBLOCK, 0);
    } finally {
      binding.close(other.stdin);
      readAll(other.stdout);
      readAll(other.stderr);
      reap(other);
      poller.close();
      closeAll(sa, sb, pr, pw, listener);
    }
  });

  it('the child starts with default signal dispositions and an empty mask (Node ignores SIGPIPE)', () => {
    const [, out] = run('/bin/cat', ['/proc/self/status'], { stdio: [IGNORE, PIPE, PIPE] });
    const mask = (name) => BigInt(`0x${new RegExp(`^${name}:\\s+([0-9a-f]+)$`, 'm').exec(String(out))[1]}`);
    // glibc's posix_spawn leaves its two internal signals (32, 33: thread cancellation and
    // setxid, which no program may use) ignored; every real signal is at its default.
    assert.equal(mask('SigIgn') & ~0x180000000n, 0n);
    assert.equal(mask('SigBlk'), 0n);
    // So a writer into a closed pipe dies of SIGPIPE, as in a shell pipeline.
    const [code] = run('/bin/sh', ['-c', 'yes | head -c 10 >/dev/null; exit 0'], { stdio: [IGNORE, IGNORE, IGNORE] });
    assert.equal(code, 0);
  });

  it('parent pipe ends are non-blocking: would-block is -1, not an exception', () => {
    const child = spawn('cat', []);
    const buf = Buffer.alloc(16);
    assert.equal(binding.read(child.stdout, buf, 0, 16), -1);
    // Fill stdin until the pipe (and cat's output pipe, which nobody reads) is full.
    const chunk = Buffer.alloc(65536, 0x61);
    let written = 0;
    for (let n; (n = binding.write(child.stdin, chunk, 0, chunk.length)) !== -1;) written += n;
    assert.ok(written >= 65536);
    binding.killChild(child.pid, 9);
    assert.equal(reap(child), -9);
    closeAll(child.stdin, child.stdout, child.stderr);
  });

  it('writing to a child that has gone is EPIPE (no SIGPIPE kills us)', () => {
    const child = spawn('/bin/sh', ['-c', 'exit 0'], { stdio: [PIPE, IGNORE, IGNORE] });
    assert.equal(reap(child), 0);
    assert.throws(() => binding.write(child.stdin, Buffer.from('x')), { code: 'EPIPE', syscall: 'write' });
    assert.throws(() => binding.writev(child.stdin, [Buffer.from('x')]), { code: 'EPIPE', syscall: 'writev' });
    binding.close(child.stdin);
  });

  it('1 MiB through cat with both pipes non-blocking (no deadlock)', () => {
    const child = spawn('cat', [], { stdio: [PIPE, PIPE, IGNORE] });
    const input = Buffer.alloc(1 << 20);
    for (let i = 0; i < input.length; i++) input[i] = (i * 7) & 0xff;
    const p = new binding.Poller('epoll');
    const chunks = [];
    const buf = Buffer.alloc(65536);
    let sent = 0;
    let done = false;
    p.add(child.stdin, WRITE);
    p.add(child.stdout, READ);
    while (!done) {
      const n = assertWait(p, 10_000);
      for (let i = 0; i < n; i++) {
        const fd = p.events[2 * i];
        if (fd === child.stdin) {
          const w = binding.writev(child.stdin, [input.subarray(sent)]);
          if (w > 0) sent += w;
          if (sent === input.length) {
            p.remove(child.stdin);
            binding.close(child.stdin);
          }
        } else {
          for (let r; (r = binding.read(child.stdout, buf, 0, buf.length)) !== -1;) {
            if (r === 0) {
              done = true;
              break;
            }
            chunks.push(Buffer.from(buf.subarray(0, r)));
          }
        }
      }
    }
    p.close();
    binding.close(child.stdout);
    assert.ok(Buffer.concat(chunks).equals(input));
    assert.equal(reap(child), 0);
  });
});

describe('reaping', () => {
  it('no zombie: 50 children, each reaped through its pidfd', () => {
    const children = [];
    for (let i = 0; i < 50; i++) {
      children.push(spawn('/bin/sh', ['-c', `exit ${i % 7}`], { stdio: [IGNORE, IGNORE, IGNORE] }));
    }
    children.forEach((child, i) => assert.equal(reap(child), i % 7));
    for (const child of children) assert.equal(isZombieOrGone(child.pid), 'gone');
  });

  it('a released child is reaped without blocking once it has exited', () => {
    const child = spawn('/bin/sh', ['-c', 'exit 0'], { stdio: [IGNORE, IGNORE, IGNORE] });
    waitReadable(child.pidfd);
    binding.close(child.pidfd);
    binding.releaseChild(child.pid);
    assert.equal(isZombieOrGone(child.pid), 'gone');
    assert.throws(() => binding.waitChild(child.pid), { code: 'ECHILD' });
    // Released while still running: left alone (not killed), reaped by a later spawn after exit.
    const sleeper = spawn('sleep', ['30'], { stdio: [IGNORE, IGNORE, IGNORE] });
    binding.releaseChild(sleeper.pid);
    assert.equal(isZombieOrGone(sleeper.pid), false, 'still running after release');
    process.kill(sleeper.pid, 'SIGKILL');
    waitReadable(sleeper.pidfd);
    binding.close(sleeper.pidfd);
    assert.equal(run('/bin/sh', ['-c', 'exit 0'], { stdio: [IGNORE, IGNORE, IGNORE] })[0], 0);
    assert.equal(isZombieOrGone(sleeper.pid), 'gone');
  });

  it("Node's child_process keeps its own exits, and ours are not stolen by it", async () => {
    const ours = spawn('/bin/sh', ['-c', 'read line; exit 5'], { stdio: [PIPE, IGNORE, IGNORE] });
    // Node's child exits while ours runs: Node's SIGCHLD handling must not reap ours.
    const nodeResult = await new Promise((resolve) => {
      childProcess.exec('exit 7', (err) => resolve(err ? err.code : 0));
    });
    assert.equal(nodeResult, 7);
    assert.equal(binding.waitChild(ours.pid), null, 'ours is still ours, still running');
    // Ours exits while a Node child runs: Node still gets its own exit.
    const nodeChild = childProcess.spawn('/bin/sh', ['-c', 'read line; exit 9'], { stdio: ['pipe', 'ignore', 'ignore'] });
    const nodeExit = new Promise((resolve) => nodeChild.on('exit', (code) => resolve(code)));
    binding.write(ours.stdin, Buffer.from('go\n'));
    binding.close(ours.stdin);
    assert.equal(reap(ours), 5);
    nodeChild.stdin.end('go\n');
    assert.equal(await nodeExit, 9);
  });
});

describe('pipes', () => {
  it('pipe(): both ends non-blocking, read -1 when empty, 0 at EOF', () => {
    const [r, w] = binding.pipe();
    const buf = Buffer.alloc(8);
    assert.equal(binding.read(r, buf, 0, 8), -1);
    assert.equal(binding.write(w, Buffer.from('abc'), 0, 3), 3);
    assert.equal(binding.read(r, buf, 0, 8), 3);
    assert.equal(String(buf.subarray(0, 3)), 'abc');
    let n = 0;
    const chunk = Buffer.alloc(65536);
    while (binding.write(w, chunk, 0, chunk.length) !== -1) n++;
    assert.ok(n >= 1);
    binding.close(w);
    while (binding.read(r, chunk, 0, chunk.length) > 0);
    assert.equal(binding.read(r, buf, 0, 8), 0);
    binding.close(r);
  });

  it('ownPipe adopts a FIFO (non-blocking, close-on-exec) and refuses regular files', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evloop-fifo-'));
    try {
      const fifo = path.join(dir, 'fifo');
      childProcess.execFileSync('mkfifo', [fifo]);
      const fd = fs.openSync(fifo, fs.constants.O_RDWR);
      assert.equal(binding.ownPipe(fd), fd);
      assert.equal(binding.read(fd, Buffer.alloc(4), 0, 4), -1);
      assert.equal(binding.write(fd, Buffer.from('hi'), 0, 2), 2);
      binding.close(fd);
      const file = fs.openSync(path.join(dir, 'plain'), 'w');
      try {
        assert.throws(() => binding.ownPipe(file), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
        assert.throws(() => binding.read(file, Buffer.alloc(1), 0, 1), { code: 'EBADF' });
      } finally {
        fs.closeSync(file);
      }
      assert.throws(() => binding.ownPipe(100000), { code: 'EBADF', syscall: 'fstat' });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('bad input', () => {
  const typeError = (code = 'ERR_INVALID_ARG_TYPE') => ({ name: 'TypeError', code });
  it('spawn checks its arguments before doing anything', () => {
    const before = openFdCount();
    const io = [PIPE, PIPE, PIPE];
    assert.throws(() => binding.spawn(42, ['x'], null, null, io), typeError());
    assert.throws(() => binding.spawn('cat', 'cat', null, null, io), typeError());
    assert.throws(() => binding.spawn('cat', ['cat', 1], null, null, io), typeError());
    assert.throws(() => binding.spawn('ca\0t', ['cat'], null, null, io), typeError('ERR_INVALID_ARG_VALUE'));
    assert.throws(() => binding.spawn('cat', ['c\0at'], null, null, io), typeError('ERR_INVALID_ARG_VALUE'));
    assert.throws(() => binding.spawn('cat', ['cat'], ['A=\0'], null, io), typeError('ERR_INVALID_ARG_VALUE'));
    assert.throws(() => binding.spawn('cat', ['cat'], {}, null, io), typeError());
    assert.throws(() => binding.spawn('cat', ['cat'], null, 7, io), typeError());
    assert.throws(() => binding.spawn('cat', ['cat'], null, null, [PIPE, PIPE]), typeError());
    assert.throws(() => binding.spawn('cat', ['cat'], null, null, 'pipe'), typeError());
    assert.throws(() => binding.spawn('cat', ['cat'], null, null, [PIPE, -9, PIPE]), { name: 'RangeError' });
    assert.throws(() => binding.spawn('cat', ['cat'], null, null, [TO_STDOUT, PIPE, PIPE]), typeError('ERR_INVALID_ARG_VALUE'));
    assert.throws(() => binding.spawn('', [''], null, null, io), { code: 'ENOENT' });
    assert.equal(openFdCount(), before);
  });

  it('waitChild / killChild / read / write check theirs', () => {
    assert.throws(() => binding.waitChild('1'), typeError());
    assert.throws(() => binding.waitChild(0), { name: 'RangeError' });
    assert.throws(() => binding.killChild(1, 65), { name: 'RangeError' });
    assert.throws(() => binding.killChild(1, 'SIGTERM'), typeError());
    assert.throws(() => binding.read(0, Buffer.alloc(1), 0, 1), { code: 'EBADF' }, 'not ours');
    assert.throws(() => binding.write(1, Buffer.alloc(1), 0, 1), { code: 'EBADF' }, 'not ours');
    const [r, w] = binding.pipe();
    try {
      assert.throws(() => binding.read(r, 'x', 0, 1), typeError());
      assert.throws(() => binding.write(w, Buffer.alloc(2), 1, 2), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    } finally {
      closeAll(r, w);
    }
  });
});
