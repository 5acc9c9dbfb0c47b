'use strict';
// createSubprocessExec / createSubprocessShell / Process with real children (/bin/cat,
// /bin/sh -c, sleep). Most tests are translated from CPython's
// Lib/test/test_asyncio/test_subprocess.py (SubprocessMixin); each names its source.
const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const childProcess = require('node:child_process');
const {
  run, getRunningLoop, sleep, CancelledError, Process, createSubprocessExec, createSubprocessShell,
} = require('evloop');
const { binding } = require('evloop/internal');

const openFds = () => fs.readdirSync('/proc/self/fd').length;
let baseline;
before(() => {
  baseline = openFds();
});
after(() => {
  assert.equal(openFds(), baseline, 'every fd the suite opened is closed again');
});

const { SIGKILL, SIGTERM, SIGHUP } = os.constants.signals;
const BLOCKED = ['sleep', ['3600']];

function procState(pid) {
  try {
    return /^State:\s+(\S)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1];
  } catch (err) {
    if (err.code === 'ENOENT') return 'gone';
    throw err;
  }
}

function pattern(size) {
  const buf = Buffer.alloc(size);
  for (let i = 0; i < size; i++) buf[i] = (i * 31 + (i >> 8)) & 0xff;
  return buf;
}

describe('pipes and exit codes', () => {
  // test_stdin_stdout
  test('stdin and stdout pipes: write, drain, close, read to EOF, wait', async () => {
    await run(async () => {
      const proc = await createSubprocessExec('cat', [], { stdin: 'pipe', stdout: 'pipe' });
      assert.ok(proc instanceof Process);
      assert.ok(proc.pid > 0);
      assert.equal(proc.returncode, null, 'null while running');
      proc.stdin.write(Buffer.from('some data'));
      await proc.stdin.drain();
      proc.stdin.close();
      const data = await proc.stdout.read();
      assert.equal(await proc.wait(), 0);
      assert.equal(proc.returncode, 0);
      assert.equal(data.toString(), 'some data');
      assert.equal(await proc.wait(), 0, 'wait() after the exit resolves at once');
    });
  });

  // test_communicate
  test('communicate(input) → [stdout, stderr]', async () => {
    await run(async () => {
      const proc = await createSubprocessExec('cat', []);
      const [out, err] = await proc.communicate(Buffer.from('some data'));
      assert.equal(proc.returncode, 0);
      assert.equal(out.toString(), 'some data');
      assert.equal(err.length, 0);
    });
  });

  // test_shell
  test('createSubprocessShell: the exit code of the command', async () => {
    await run(async () => {
      const proc = await createSubprocessShell('exit 7');
      assert.equal(await proc.wait(), 7);
    });
  });

  // test_kill, test_terminate
  test('kill() and terminate(): returncode is -signal', async () => {
    await run(async () => {
      const a = await createSubprocessExec(...BLOCKED);
      a.kill();
      assert.equal(await a.wait(), -SIGKILL);
      const b = await createSubprocessExec(...BLOCKED);
      b.terminate();
      assert.equal(await b.wait(), -SIGTERM);
    });
  });

  // test_send_signal: the child gets the default SIGHUP handler whatever ours is.
  test('sendSignal(SIGHUP) to a child that said it is sleeping', async () => {
    await run(async () => {
      const proc = await createSubprocessShell('echo sleeping; exec sleep 3600', { stdin: 'ignore' });
      assert.equal((await proc.stdout.readLine()).toString(), 'sleeping\n');
      proc.sendSignal('SIGHUP');
      assert.equal(await proc.wait(), -SIGHUP);
      proc.sendSignal(SIGTERM); // after the exit: nothing to signal, no error
      assert.throws(() => proc.sendSignal('SIGNOPE'), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
      assert.throws(() => proc.sendSignal({}), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    });
  });

  // test_stdin_broken_pipe
  test('drain() after the child has gone fails with EPIPE', async () => {
    await run(async () => {
      const proc = await createSubprocessExec('true', [], { stdin: 'pipe' });
      assert.equal(await proc.wait(), 0);
      const errors = [];
      getRunningLoop().setExceptionHandler((_loop, ctx) => errors.push(ctx));
      proc.stdin.write(Buffer.alloc(1 << 20, 0x78));
      // asyncio: BrokenPipeError or ConnectionResetError, depending on which side noticed first.
      await assert.rejects(Promise.resolve().then(() => proc.stdin.drain()), (err) => ['EPIPE', 'ECONNRESET'].includes(err.code));
      assert.deepEqual(errors, []);
    });
  });

  // test_communicate_ignore_broken_pipe
  test('communicate() ignores a child that does not read its input', async () => {
    await run(async () => {
      const proc = await createSubprocessExec('true', [], { stdin: 'pipe' });
      const [out, err] = await proc.communicate(Buffer.alloc(1 << 20, 0x78));
      assert.equal(proc.returncode, 0);
      assert.equal(out.length, 0);
      assert.equal(err.length, 0);
    });
  });

  // test_stdin_not_inheritable, test_empty_input
  test('communicate with empty input: the child sees EOF at once', async () => {
    await run(async () => {
      const proc = await createSubprocessExec('wc', ['-c']);
      const [out] = await proc.communicate(Buffer.alloc(0));
      assert.equal(out.toString().trim(), '0');
      assert.equal(proc.returncode, 0);
      const proc2 = await createSubprocessExec('wc', ['-c']);
      const [out2] = await proc2.communicate(Buffer.from('abc'));
      assert.equal(out2.toString().trim(), '3');
    });
  });

  // test_devnull_input, test_devnull_output, test_devnull_error
  test("'ignore' is /dev/null; communicate gives null for a stream that is not a pipe", async () => {
    await run(async () => {
      const a = await createSubprocessExec('wc', ['-c'], { stdin: 'ignore' });
      assert.equal(a.stdin, null);
      const [out] = await a.communicate();
      assert.equal(out.toString().trim(), '0');
      const b = await createSubprocessExec('wc', ['-c'], { stdout: 'ignore' });
      assert.equal(b.stdout, null);
      const [out2, err2] = await b.communicate(Buffer.from('abc'));
      assert.equal(out2, null);
      assert.equal(err2.length, 0);
      const c = await createSubprocessExec('wc', ['-c'], { stderr: 'ignore' });
      const [out3, err3] = await c.communicate(Buffer.from('abc'));
      assert.equal(out3.toString().trim(), '3');
      assert.equal(err3, null);
      assert.equal(c.returncode, 0);
    });
  });

  test("stderr: 'stdout' merges both streams into stdout, in order", async () => {
    await run(async () => {
      const proc = await createSubprocessShell('echo out; echo err >&2; echo out2', { stderr: 'stdout' });
      assert.equal(proc.stderr, null);
      const [out, err] = await proc.communicate();
      assert.equal(out.toString(), 'out\nerr\nout2\n');
      assert.equal(err, null);
    });
  });

  test('cwd and env reach the child', async () => {
    const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'evloop-sub-')));
    try {
      await run(async () => {
        const a = await createSubprocessExec('pwd', [], { cwd: dir });
        assert.equal((await a.communicate())[0].toString(), `${dir}\n`);
        const b = await createSubprocessShell('echo "$GREETING $WHO"', { env: { GREETING: 'hello', WHO: 'world', PATH: process.env.PATH } });
        assert.equal((await b.communicate())[0].toString(), 'hello world\n');
        const c = await createSubprocessExec('/usr/bin/env', [], { env: { ONLY: '1', SKIPPED: undefined } });
        assert.equal((await c.communicate())[0].toString(), 'ONLY=1\n');
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('large data and back-pressure', () => {
  test('4 MiB through cat with communicate (both directions at once, no deadlock)', async () => {
    await run(async () => {
      const input = pattern(4 << 20);
      const proc = await createSubprocessExec('cat', []);
      const [out] = await proc.communicate(input);
      assert.equal(proc.returncode, 0);
      assert.ok(out.equals(input));
    });
  });

  test('1 MiB by hand: write + drain while another task reads', async () => {
    await run(async () => {
      const input = pattern(1 << 20);
      const proc = await createSubprocessExec('cat', [], { stderr: 'ignore' });
      const reading = proc.stdout.read();
      for (let off = 0; off < input.length; off += 100_000) {
        proc.stdin.write(input.subarray(off, off + 100_000));
        await proc.stdin.drain();
      }
      proc.stdin.close();
      assert.ok((await reading).equals(input));
      assert.equal(await proc.wait(), 0);
    });
  });

  // test_read_stdout_after_process_exit: the child writes more than a pipe holds and exits
  // while the reader takes it slowly.
  test('stdout read in small steps after the child has exited', async () => {
    await run(async () => {
      const proc = await createSubprocessShell('head -c 262144 /dev/zero; exit 1', { stdout: 'pipe', limit: 1024 });
      let total = 0;
      for (;;) {
        const data = await proc.stdout.read(4096);
        if (data.length === 0) break;
        // Never more buffered than the reader lets in before pausing (2 × limit) plus one read.
        assert.ok(proc.stdout.bufferedSize <= 2 * 1024 + 256 * 1024);
        total += data.length;
        await sleep(0);
      }
      assert.equal(total, 262144);
      assert.equal(await proc.wait(), 1);
    });
  });

  test('a child that closes stdout early: EOF while it still runs', async () => {
    await run(async () => {
      const proc = await createSubprocessShell('echo first; exec 1>&-; read line; echo "got $line" >&2');
      assert.equal((await proc.stdout.read()).toString(), 'first\n');
      assert.equal(proc.stdout.atEof(), true);
      assert.equal(proc.returncode, null, 'still running');
      proc.stdin.write(Buffer.from('go\n'));
      const [, err] = await proc.communicate();
      assert.equal(err.toString(), 'got go\n');
      assert.equal(proc.returncode, 0);
    });
  });
});

describe('cancellation', () => {
  // test_cancel_process_wait
  test('cancelling wait() leaves the child alone', async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const proc = await createSubprocessExec(...BLOCKED);
      const task = proc.wait();
      loop.callSoon(() => task.cancel());
      await assert.rejects(Promise.resolve().then(() => task), CancelledError);
      assert.equal(proc.returncode, null);
      assert.notEqual(procState(proc.pid), 'gone');
      proc.kill();
      assert.equal(await proc.wait(), -SIGKILL);
    });
  });

  test('cancelling communicate() stops it; the child can still be killed and waited for', async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const proc = await createSubprocessExec(...BLOCKED);
      const comm = proc.communicate();
      loop.callSoon(() => comm.cancel());
      await assert.rejects(Promise.resolve().then(() => comm), CancelledError);
      proc.kill();
      assert.equal(await proc.wait(), -SIGKILL);
    });
  });

  // test_cancel_make_subprocess_transport_exec
  test('cancelling createSubprocessExec kills the child and releases its fds', async () => {
    await run(async () => {
      await (await createSubprocessExec('true')).communicate(); // the loop's own fds are open now
      const before = openFds();
      const creating = createSubprocessExec(...BLOCKED);
      assert.equal(openFds(), before + 4, 'three pipes and a pidfd');
      creating.cancel();
      await assert.rejects(Promise.resolve().then(() => creating), CancelledError);
      // The pipes close at once; the exit watch reaps the killed child and closes its pidfd.
      for (let i = 0; i < 1000 && openFds() !== before; i++) await sleep(1);
      assert.equal(openFds(), before);
    });
  });
});

describe('bad input', () => {
  test('arguments and options are checked before anything is spawned', async () => {
    await run(async () => {
      const typeError = (code = 'ERR_INVALID_ARG_TYPE') => ({ name: 'TypeError', code });
      assert.throws(() => createSubprocessExec(42), typeError());
      assert.throws(() => createSubprocessExec('cat', 'x'), typeError());
      assert.throws(() => createSubprocessExec('cat', [1]), typeError());
      assert.throws(() => createSubprocessExec('ca\0t'), typeError('ERR_INVALID_ARG_VALUE'));
      assert.throws(() => createSubprocessExec('cat', ['a\0']), typeError('ERR_INVALID_ARG_VALUE'));
      assert.throws(() => createSubprocessExec('cat', [], 'pipe'), typeError());
      assert.throws(() => createSubprocessExec('cat', [], { stdin: 'stdout' }), typeError('ERR_INVALID_ARG_VALUE'));
      assert.throws(() => createSubprocessExec('cat', [], { stdout: 'file' }), typeError('ERR_INVALID_ARG_VALUE'));
      assert.throws(() => createSubprocessExec('cat', [], { stderr: 2 }), typeError());
      assert.throws(() => createSubprocessExec('cat', [], { cwd: 7 }), typeError());
      assert.throws(() => createSubprocessExec('cat', [], { env: 'A=1' }), typeError());
      assert.throws(() => createSubprocessExec('cat', [], { env: { 'A=B': '1' } }), typeError('ERR_INVALID_ARG_VALUE'));
      assert.throws(() => createSubprocessExec('cat', [], { limit: 0 }), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
      assert.throws(() => createSubprocessShell(null), typeError());
      const proc = await createSubprocessExec('cat', []);
      assert.throws(() => proc.communicate('text'), typeError());
      proc.kill();
      await proc.wait();
    });
  });

  test('a missing program is ENOENT (Node error shape), a bad cwd too, nothing leaks', async () => {
    const before = openFds();
    await run(async () => {
      const fail = (fut) => Promise.resolve().then(() => fut);
      await assert.rejects(fail(createSubprocessExec('no-such-program-evloop', ['x'])), (err) => {
        assert.equal(err.code, 'ENOENT');
        assert.equal(err.errno, -os.constants.errno.ENOENT);
        assert.equal(err.syscall, 'spawn');
        assert.equal(err.path, 'no-such-program-evloop');
        assert.deepEqual(err.spawnargs, ['x']);
        assert.equal(err.message, 'spawn no-such-program-evloop ENOENT');
        return true;
      });
      await assert.rejects(fail(createSubprocessExec('/etc/passwd')), { code: 'EACCES' });
      await assert.rejects(fail(createSubprocessExec('pwd', [], { cwd: '/no/such/dir' })), { code: 'ENOENT', syscall: 'chdir', path: '/no/such/dir' });
    });
    assert.equal(openFds(), before);
  });
});

describe('resources', () => {
  test('no fd leaks: 30 children with all three pipes', async () => {
    await run(async () => {
      await (await createSubprocessExec('true')).communicate(); // warm-up: lazy Node fds
    });
    const before = openFds();
    await run(async () => {
      for (let i = 0; i < 30; i++) {
        const proc = await createSubprocessExec('cat', []);
        await proc.communicate(Buffer.from(`run ${i}`));
      }
    });
    assert.equal(openFds(), before);
  });

  test('no zombies: every child is reaped once its exit is seen', async () => {
    await run(async () => {
      const procs = [];
      for (let i = 0; i < 20; i++) procs.push(await createSubprocessShell(`exit ${i}`, { stdin: 'ignore', stdout: 'ignore', stderr: 'ignore' }));
      const codes = await Promise.all(procs.map((p) => p.wait()));
      assert.deepEqual(codes, procs.map((_, i) => i));
      for (const p of procs) assert.equal(procState(p.pid), 'gone');
    });
  });

  test('the child inherits only stdio: no evloop fd leaks into it', async () => {
    await run(async () => {
      // Fds this process got without close-on-exec from whoever started it reach any child
      // (Node's too); everything evloop made is close-on-exec.
      const inherited = fs.readdirSync('/proc/self/fd').map(Number).filter((fd) => {
        if (fd < 3) return false;
        try {
          const flags = parseInt(/^flags:\s+(\d+)/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))[1], 8);
          return (flags & 0o2000000) === 0;
        } catch {
          return false;
        }
      });
      const other = await createSubprocessExec('cat', []); // its pipes and pidfd are open meanwhile
      const proc = await createSubprocessExec('ls', ['/proc/self/fd']);
      const [out] = await proc.communicate();
      const fds = out.toString().trim().split('\n').map(Number).sort((a, b) => a - b);
      assert.deepEqual(fds, [0, 1, 2, 3, ...inherited].sort((a, b) => a - b));
      await other.communicate();
    });
  });

  test("Node's child_process gets its exits while evloop children run, and ours arrive too", async () => {
    await run(async () => {
      const ours = await createSubprocessShell('read line; exit 5', { stdout: 'ignore', stderr: 'ignore' });
      const nodeCode = await new Promise((resolve) => childProcess.exec('exit 7', (err) => resolve(err ? err.code : 0)));
      assert.equal(nodeCode, 7);
      assert.equal(ours.returncode, null);
      const nodeChild = childProcess.spawn('/bin/sh', ['-c', 'read line; exit 9'], { stdio: ['pipe', 'ignore', 'ignore'] });
      const nodeExit = new Promise((resolve) => nodeChild.on('exit', resolve));
      ours.stdin.write(Buffer.from('go\n'));
      assert.equal(await ours.wait(), 5);
      nodeChild.stdin.end('go\n');
      assert.equal(await nodeExit, 9);
    });
  });

  // Where pidfd_open is missing the exit is polled with waitChild on a backing-off timer; the
  // same Process without its pidfd exercises that path here.
  test('without a pidfd the exit is found by polling', async () => {
    await run(async () => {
      const [pid, pidfd] = binding.spawn('sleep', ['sleep', '3600'], null, null, [-3, -3, -3]);
      binding.close(pidfd);
      const proc = new Process(getRunningLoop(), pid, -1, { stdin: null, stdout: null, stderr: null });
      assert.equal(proc.returncode, null);
      const waiting = proc.wait();
      await sleep(5); // a few polls find it running
      assert.equal(proc.returncode, null);
      proc.kill();
      assert.equal(await waiting, -SIGKILL);
      assert.equal(procState(pid), 'gone');
    });
  });

  test('closing the loop releases the fds of a running child and kills nothing', async () => {
    const before = openFds();
    let pid;
    await run(async () => {
      const proc = await createSubprocessExec(...BLOCKED);
      pid = proc.pid;
    });
    assert.equal(openFds(), before);
    assert.notEqual(procState(pid), 'gone');
    assert.notEqual(procState(pid), 'Z');
    process.kill(pid, 'SIGKILL');
    // Released children are reaped by the next spawn once they have exited.
    await run(async () => {
      for (let i = 0; i < 200 && procState(pid) !== 'gone'; i++) {
        await (await createSubprocessExec('true', [], { stdin: 'ignore', stdout: 'ignore', stderr: 'ignore' })).wait();
      }
    });
    assert.equal(procState(pid), 'gone');
  });
});
