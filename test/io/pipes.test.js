'use strict';
// Pipe transports: loop.connectReadPipe / loop.connectWritePipe over real pipes (the addon's
// pipe(), a FIFO made with mkfifo), with protocols written as plain objects.
const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { run, getRunningLoop, StreamReader, StreamReaderProtocol, ReadPipeTransport, WritePipeTransport } = require('evloop');
const { binding } = require('evloop/internal');

const openFds = () => fs.readdirSync('/proc/self/fd').length;
let baseline;
before(() => {
  baseline = openFds();
});
after(() => {
  assert.equal(openFds(), baseline, 'every pipe the suite opened is closed again');
});

/** A protocol recording every call; `done` settles at connectionLost. */
function recorder(loop, extra = {}) {
  const events = [];
  const chunks = [];
  const lost = loop.createFuture();
  return {
    events,
    chunks,
    lost,
    protocol: {
      connectionMade: (t) => events.push(['made', t]),
      dataReceived: (d) => chunks.push(Buffer.from(d)),
      eofReceived: () => events.push(['eof']),
      pauseWriting: () => events.push(['pause']),
      resumeWriting: () => events.push(['resume']),
      connectionLost: (err) => {
        events.push(['lost', err]);
        lost.setResult(err);
      },
      ...extra,
    },
  };
}

describe('connectReadPipe', () => {
  test('data, then the writer closes: eofReceived, connectionLost(null), fd released', async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const [r, w] = binding.pipe();
      const rec = recorder(loop);
      const [transport, protocol] = await loop.connectReadPipe(() => rec.protocol, r);
      assert.ok(transport instanceof ReadPipeTransport);
      assert.equal(protocol, rec.protocol);
      assert.equal(rec.events[0][0], 'made');
      assert.equal(transport.getExtraInfo('pipe'), r);
      assert.ok(transport.isReading());
      binding.write(w, Buffer.from('hello '), 0, 6);
      binding.write(w, Buffer.from('pipe'), 0, 4);
      binding.close(w);
      assert.equal(await rec.lost, null);
      assert.equal(Buffer.concat(rec.chunks).toString(), 'hello pipe');
      assert.deepEqual(rec.events.slice(1).map((e) => e[0]), ['eof', 'lost']);
      assert.throws(() => binding.close(r), { code: 'EBADF' }, 'the transport closed its fd');
    });
  });

  test('pauseReading holds data in the pipe; resumeReading delivers it', async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const [r, w] = binding.pipe();
      const rec = recorder(loop);
      const [transport] = await loop.connectReadPipe(() => rec.protocol, r);
      transport.pauseReading();
      assert.equal(transport.isReading(), false);
      binding.write(w, Buffer.from('held'), 0, 4);
      // Several loop passes: nothing may arrive while paused.
      for (let i = 0; i < 5; i++) await new Promise((resolve) => loop.callSoon(resolve));
      assert.equal(rec.chunks.length, 0);
      transport.resumeReading();
      binding.close(w);
      await rec.lost;
      assert.equal(Buffer.concat(rec.chunks).toString(), 'held');
    });
  });

  test('close() before EOF: connectionLost(null), the write end then sees EPIPE', async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const [r, w] = binding.pipe();
      const rec = recorder(loop);
      const [transport] = await loop.connectReadPipe(() => rec.protocol, r);
      transport.close();
      assert.ok(transport.isClosing());
      assert.equal(await rec.lost, null);
      assert.throws(() => binding.write(w, Buffer.from('x'), 0, 1), { code: 'EPIPE' });
      binding.close(w);
    });
  });

  // CPython test_subprocess.py test_pause_reading: a StreamReader with a small limit pauses
  // the pipe transport, and resumes it as the data is read.
  test('a StreamReader over a read pipe pauses and resumes it (back-pressure)', async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const [r, w] = binding.pipe();
      const limit = 10;
      const reader = new StreamReader({ limit, loop });
      const [transport] = await loop.connectReadPipe(() => new StreamReaderProtocol(reader, null, loop), r);
      const calls = [];
      const pause = transport.pauseReading.bind(transport);
      const resume = transport.resumeReading.bind(transport);
      transport.pauseReading = () => (calls.push('pause'), pause());
      transport.resumeReading = () => (calls.push('resume'), resume());
      binding.write(w, Buffer.alloc(limit * 2 + 1, 0x78), 0, limit * 2 + 1);
      binding.close(w);
      // Let the bytes arrive with no read pending: the reader is over 2 × limit and pauses.
      while (reader.bufferedSize === 0) await new Promise((resolve) => loop.callSoon(resolve));
      assert.deepEqual(calls, ['pause']);
      const data = await reader.read();
      assert.equal(data.toString(), 'x'.repeat(limit * 2 + 1));
      assert.deepEqual(calls, ['pause', 'resume']);
    });
  });

  test('a FIFO opened elsewhere is adopted (and closed with the transport)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evloop-pipes-'));
    try {
      const fifo = path.join(dir, 'fifo');
      execFileSync('mkfifo', [fifo]);
      const fd = fs.openSync(fifo, fs.constants.O_RDWR);
      const writer = fs.openSync(fifo, fs.constants.O_WRONLY);
      await run(async () => {
        const loop = getRunningLoop();
        const rec = recorder(loop);
        const [transport] = await loop.connectReadPipe(() => rec.protocol, fd);
        fs.writeSync(writer, 'via fifo');
        while (rec.chunks.length === 0) await new Promise((resolve) => loop.callSoon(resolve));
        assert.equal(Buffer.concat(rec.chunks).toString(), 'via fifo');
        transport.close();
        await rec.lost;
      });
      fs.closeSync(writer);
      assert.throws(() => fs.fstatSync(fd), { code: 'EBADF' });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('connectWritePipe', () => {
  test('1 MiB through a pipe: water marks pause and resume the protocol, close flushes', async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const [r, w] = binding.pipe();
      const wrec = recorder(loop);
      const rrec = recorder(loop);
      const [wt] = await loop.connectWritePipe(() => wrec.protocol, w);
      assert.ok(wt instanceof WritePipeTransport);
      assert.deepEqual(wt.getWriteBufferLimits(), [16384, 65536]);
      const [rt] = await loop.connectReadPipe(() => rrec.protocol, r);
      rt.pauseReading(); // let the pipe fill up so the write side must buffer
      const input = Buffer.alloc(1 << 20);
      for (let i = 0; i < input.length; i++) input[i] = (i * 13) & 0xff;
      wt.write(input);
      assert.ok(wt.getWriteBufferSize() > 0);
      assert.deepEqual(wrec.events.map((e) => e[0]), ['made', 'pause']);
      wt.close(); // flushes first
      assert.ok(wt.isClosing());
      const queued = wt.getWriteBufferSize();
      wt.write(Buffer.from('late')); // dropped, as asyncio does once closing
      assert.equal(wt.getWriteBufferSize(), queued);
      rt.resumeReading();
      assert.equal(await wrec.lost, null);
      assert.equal(await rrec.lost, null);
      assert.deepEqual(wrec.events.map((e) => e[0]), ['made', 'pause', 'resume', 'lost']);
      assert.ok(Buffer.concat(rrec.chunks).equals(input));
    });
  });

  test('the reader goes away: connectionLost(null) when idle, EPIPE with data buffered', async () => {
    await run(async () => {
      const loop = getRunningLoop();
      let [r, w] = binding.pipe();
      const idle = recorder(loop);
      await loop.connectWritePipe(() => idle.protocol, w);
      binding.close(r);
      assert.equal(await idle.lost, null, 'noticed without writing');

      [r, w] = binding.pipe();
      const busy = recorder(loop);
      const [wt] = await loop.connectWritePipe(() => busy.protocol, w);
      const errors = [];
      loop.setExceptionHandler((_l, ctx) => errors.push(ctx));
      wt.write(Buffer.alloc(1 << 20));
      assert.ok(wt.getWriteBufferSize() > 0);
      binding.close(r);
      const err = await busy.lost;
      assert.equal(err.code, 'EPIPE');
      assert.deepEqual(errors, [], 'a vanished reader is not a loop error');
    });
  });

  test('writeEof closes after the flush; abort drops the buffer', async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const [r, w] = binding.pipe();
      const rec = recorder(loop);
      const [wt] = await loop.connectWritePipe(() => rec.protocol, w);
      assert.equal(wt.canWriteEof(), true);
      wt.write(Buffer.from('last words'));
      wt.writeEof();
      assert.equal(await rec.lost, null);
      const buf = Buffer.alloc(32);
      assert.equal(binding.read(r, buf, 0, 32), 10);
      assert.equal(binding.read(r, buf, 0, 32), 0, 'EOF');
      binding.close(r);

      const [r2, w2] = binding.pipe();
      const rec2 = recorder(loop);
      const [wt2] = await loop.connectWritePipe(() => rec2.protocol, w2);
      wt2.write(Buffer.alloc(1 << 20));
      wt2.abort();
      assert.equal(await rec2.lost, null);
      assert.equal(wt2.getWriteBufferSize(), 0);
      binding.close(r2);
    });
  });
});

describe('bad input and loop close', () => {
  test('bad factories and fds are TypeErrors / RangeErrors; a regular file is refused', async () => {
    await run(async () => {
      const loop = getRunningLoop();
      assert.throws(() => loop.connectReadPipe(null, 0), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
      assert.throws(() => loop.connectWritePipe(() => ({}), '3'), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
      assert.throws(() => loop.connectReadPipe(() => ({}), -1), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
      assert.throws(() => loop.connectReadPipe(() => ({}), 1.5), { name: 'RangeError' });
      const file = fs.openSync(__filename, 'r');
      try {
        assert.throws(() => loop.connectReadPipe(() => ({}), file), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
      } finally {
        fs.closeSync(file);
      }
      const [r, w] = binding.pipe();
      const boom = new Error('factory failed');
      await assert.rejects(Promise.resolve().then(() => loop.connectReadPipe(() => { throw boom; }, r)), boom);
      assert.throws(() => binding.close(r), { code: 'EBADF' }, 'a failed connect closes the fd it took');
      binding.close(w);
    });
  });

  test('closing the loop releases open pipe transports', async () => {
    const before = openFds();
    await run(async () => {
      const loop = getRunningLoop();
      const [r, w] = binding.pipe();
      await loop.connectReadPipe(() => ({}), r);
      const [wt] = await loop.connectWritePipe(() => ({}), w);
      wt.write(Buffer.alloc(1 << 20)); // buffered, never flushed
    });
    assert.equal(openFds(), before);
  });
});
