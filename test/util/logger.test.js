'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { Writable } = require('stream');
const pino = require('pino');
const { createLogger, toLogger } = require('evloop');

const ISO = '\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z';

function capture(options = {}) {
  const lines = [];
  const log = createLogger({ ...options, sink: (line, level) => lines.push({ line, level }) });
  return { log, lines };
}

// Collects what pino writes; pino writes synchronously to a plain stream.
function pinoCapture(level = 'info') {
  const records = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const text of chunk.toString().split('\n')) if (text) records.push(JSON.parse(text));
      cb();
    },
  });
  return { logger: pino({ level }, stream), records };
}

test('a line reads "<ISO time> <LEVEL> desc, detail: key"', () => {
  const { log, lines } = capture();
  log.info('connection accepted', 'from 127.0.0.1:5000', 'conn-7');
  assert.equal(lines.length, 1);
  assert.match(lines[0].line, new RegExp(`^${ISO} INFO  connection accepted, from 127\\.0\\.0\\.1:5000: conn-7$`));
  assert.equal(lines[0].level, 'info');
  const time = lines[0].line.slice(0, 24);
  assert.equal(new Date(time).toISOString(), time);
});

test('absent detail or key parts are dropped cleanly', () => {
  const { log, lines } = capture();
  log.info('started');
  log.info('started', 'on port 80');
  log.info('started', undefined, 'srv-1');
  const bodies = lines.map((l) => l.line.slice(25));
  assert.deepEqual(bodies, ['INFO  started', 'INFO  started, on port 80', 'INFO  started: srv-1']);
});

test('each level has its label, and the sink receives (line, level)', () => {
  const { log, lines } = capture({ level: 'debug' });
  log.debug('d');
  log.info('i');
  log.warn('w');
  log.error('e');
  log.critical('c');
  assert.deepEqual(
    lines.map((l) => [l.level, l.line.slice(25)]),
    [
      ['debug', 'DEBUG d'],
      ['info', 'INFO  i'],
      ['warn', 'WARN  w'],
      ['error', 'ERROR e'],
      ['critical', 'CRITICAL c'],
    ],
  );
});

test('levels below the threshold are dropped; the default threshold is info', () => {
  const byDefault = capture();
  byDefault.log.debug('hidden');
  byDefault.log.info('shown');
  assert.deepEqual(byDefault.lines.map((l) => l.level), ['info']);

  const warnUp = capture({ level: 'warn' });
  for (const level of ['debug', 'info', 'warn', 'error', 'critical']) warnUp.log[level](level);
  assert.deepEqual(warnUp.lines.map((l) => l.level), ['warn', 'error', 'critical']);

  const criticalOnly = capture({ level: 'critical' });
  for (const level of ['debug', 'info', 'warn', 'error', 'critical']) criticalOnly.log[level](level);
  assert.deepEqual(criticalOnly.lines.map((l) => l.level), ['critical']);
});

test('a dropped call formats nothing (its detail is never stringified)', () => {
  const { log, lines } = capture({ level: 'error' });
  const detail = {
    [require('util').inspect.custom]() {
      throw new Error('formatted a dropped line');
    },
  };
  log.info('hidden', detail, 'k');
  assert.equal(lines.length, 0);
});

test('the level can be changed on a live logger', () => {
  const { log, lines } = capture();
  assert.equal(log.level, 'info');
  log.level = 'debug';
  log.debug('now shown');
  assert.equal(lines.length, 1);
  assert.ok(log.isLevelEnabled('debug'));
  assert.throws(() => {
    log.level = 'verbose';
  }, { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
});

test('non-string details and keys are rendered on one line; errors show name, code and message', () => {
  const { log, lines } = capture();
  const err = Object.assign(new Error('refused'), { code: 'ECONNREFUSED' });
  log.warn('connect failed', err, 7);
  log.warn('odd input', { a: 1, b: [1, 2] });
  assert.equal(lines[0].line.slice(25), 'WARN  connect failed, Error [ECONNREFUSED]: refused: 7');
  assert.equal(lines[1].line.slice(25), 'WARN  odd input, { a: 1, b: [ 1, 2 ] }');
  for (const { line } of lines) assert.ok(!line.includes('\n'));
});

test('at error and critical, an Error detail is followed by its stack frames', () => {
  const { log, lines } = capture();
  const err = Object.assign(new Error('refused'), { code: 'ECONNREFUSED' });
  log.error('connect failed', err, 7);
  log.critical('gave up', err);
  log.error('no error object', 'just text');
  const [first, ...frames] = lines[0].line.slice(25).split('\n');
  assert.equal(first, 'ERROR connect failed, Error [ECONNREFUSED]: refused: 7');
  assert.deepEqual(frames, err.stack.split('\n').slice(1));
  assert.match(lines[1].line, /CRITICAL gave up, Error \[ECONNREFUSED\]: refused\n {4}at /);
  assert.ok(!lines[2].line.includes('\n'));
});

test('the default sink writes the line to standard error', async () => {
  const { spawn } = require('child_process');
  const child = spawn(process.execPath, ['-e', "require('evloop').createLogger().warn('disk low', '3% free', 'vol-1')"], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const code = await new Promise((resolve) => child.on('close', resolve));
  assert.equal(code, 0);
  assert.equal(out, '');
  assert.match(err, new RegExp(`^${ISO} WARN  disk low, 3% free: vol-1\\n$`));
});

test('bad options are rejected with a coded TypeError', () => {
  assert.throws(() => createLogger({ level: 'loud' }), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => createLogger({ sink: 'stderr' }), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => createLogger(42), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
});

test('toLogger: undefined gives the default logger, an evloop logger passes through', () => {
  const def = toLogger(undefined);
  for (const m of ['debug', 'info', 'warn', 'error', 'critical']) assert.equal(typeof def[m], 'function');
  assert.equal(toLogger(), def);
  const { log } = capture();
  assert.equal(toLogger(log), log);
  const plain = { debug() {}, info() {}, warn() {}, error() {}, critical() {} };
  assert.equal(toLogger(plain), plain);
});

test('toLogger rejects what is no logger', () => {
  for (const bad of [42, 'stderr', {}, { info() {} }, console.log]) {
    assert.throws(() => toLogger(bad), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  }
});

test('a real pino logger is accepted: message, detail and key land in its records', () => {
  const { logger, records } = pinoCapture();
  const log = toLogger(logger);
  log.info('connection accepted', 'from 127.0.0.1:5000', 'conn-7');
  log.warn('plain message');
  log.error('key only', undefined, 'k1');
  assert.equal(records.length, 3);
  assert.equal(records[0].level, 30);
  assert.equal(records[0].msg, 'connection accepted');
  assert.equal(records[0].detail, 'from 127.0.0.1:5000');
  assert.equal(records[0].key, 'conn-7');
  assert.equal(records[1].level, 40);
  assert.equal(records[1].msg, 'plain message');
  assert.ok(!('detail' in records[1]) && !('key' in records[1]));
  assert.equal(records[2].level, 50);
  assert.equal(records[2].key, 'k1');
  assert.ok(!('detail' in records[2]));
});

test('with pino, critical goes to fatal and an Error detail goes under err', () => {
  const { logger, records } = pinoCapture();
  const log = toLogger(logger);
  log.critical('loop crashed', Object.assign(new Error('boom'), { code: 'EBADF' }), 'loop-1');
  assert.equal(records.length, 1);
  assert.equal(records[0].level, 60); // pino's fatal
  assert.equal(records[0].msg, 'loop crashed');
  assert.equal(records[0].err.message, 'boom');
  assert.equal(records[0].err.code, 'EBADF');
  assert.equal(records[0].key, 'loop-1');
});

test('with pino, pino decides the level (debug is dropped at its default info)', () => {
  const quiet = pinoCapture('info');
  toLogger(quiet.logger).debug('hidden');
  assert.equal(quiet.records.length, 0);
  const verbose = pinoCapture('debug');
  toLogger(verbose.logger).debug('shown', 'x');
  assert.equal(verbose.records.length, 1);
  assert.equal(verbose.records[0].level, 20);
});

test('a pino child logger is accepted and keeps its bindings', () => {
  const { logger, records } = pinoCapture();
  const log = toLogger(logger.child({ component: 'pool' }));
  log.info('created', undefined, 'conn-1');
  assert.equal(records[0].component, 'pool');
  assert.equal(records[0].key, 'conn-1');
  assert.equal(toLogger(logger), toLogger(logger), 'wrapping is cached per pino instance');
});
