'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const os = require('os');
const {
  Status,
  STATUS_BANDS,
  statusMessage,
  statusCategory,
  fromErrno,
  fromHttpStatus,
  isRetryable,
  statusOfError,
  RetryRequiredError,
  RetryOptionalError,
  RetryLaterError,
  NotRepeatableError,
  HttpError,
} = require('evloop');

test('the bands cover -999…999 in order with no gaps or overlaps', () => {
  assert.equal(STATUS_BANDS[0].min, -999);
  assert.equal(STATUS_BANDS[STATUS_BANDS.length - 1].max, 999);
  for (let i = 1; i < STATUS_BANDS.length; i++) {
    assert.equal(STATUS_BANDS[i].min, STATUS_BANDS[i - 1].max + 1, `band ${i} starts where ${i - 1} ends`);
    assert.ok(STATUS_BANDS[i].min <= STATUS_BANDS[i].max);
  }
  for (const band of STATUS_BANDS) {
    assert.equal(typeof band.description, 'string');
    assert.ok(Object.isFrozen(band));
  }
});

test('statusCategory gives the category at every band edge', () => {
  const edges = [
    [-999, 'unhandled'],
    [-998, 'retryRequired'],
    [-990, 'retryRequired'],
    [-989, 'retryOptional'],
    [-980, 'retryOptional'],
    [-979, 'retryLater'],
    [-970, 'retryLater'],
    [-969, 'reserved'],
    [-951, 'reserved'],
    [-950, 'notRepeatable'],
    [-900, 'notRepeatable'],
    [-899, 'reserved'],
    [-601, 'reserved'],
    [-600, 'http'],
    [-200, 'http'],
    [-199, 'errno'],
    [-1, 'errno'],
    [0, 'success'],
    [1, 'init'],
    [99, 'init'],
    [100, 'inProcess'],
    [799, 'inProcess'],
    [800, 'callback'],
    [899, 'callback'],
    [900, 'reserved'],
    [999, 'reserved'],
  ];
  for (const [code, category] of edges) assert.equal(statusCategory(code), category, `code ${code}`);
});

test('statusCategory rejects codes outside -999…999 and non-integers with RangeError', () => {
  for (const bad of [-1000, 1000, -1e9, Infinity, -Infinity, NaN, 0.5, -110.1]) {
    assert.throws(() => statusCategory(bad), RangeError, `code ${bad}`);
  }
  assert.throws(() => statusCategory('0'), TypeError);
  assert.throws(() => statusCategory(undefined), TypeError);
  assert.throws(() => statusMessage(1000), RangeError);
});

test('named Status codes sit in their bands', () => {
  assert.equal(Status.SUCCESS, 0);
  assert.equal(statusCategory(Status.INIT), 'init');
  assert.equal(statusCategory(Status.IN_PROCESS), 'inProcess');
  assert.equal(statusCategory(Status.CALLBACK), 'callback');
  assert.equal(statusCategory(Status.UNHANDLED), 'unhandled');
  assert.equal(statusCategory(Status.RETRY_REQUIRED), 'retryRequired');
  assert.equal(statusCategory(Status.RETRY_OPTIONAL), 'retryOptional');
  assert.equal(statusCategory(Status.RETRY_LATER), 'retryLater');
  assert.equal(statusCategory(Status.NOT_REPEATABLE), 'notRepeatable');
  assert.equal(Status.CANCELLED, -125);
  assert.equal(Status.TIMED_OUT, -110);
  assert.equal(Status.CONNECTION_REFUSED, -111);
  assert.equal(Status.CONNECTION_RESET, -104);
  assert.equal(Status.BROKEN_PIPE, -32);
  assert.ok(Object.isFrozen(Status));
});

test('statusMessage names errnos, HTTP reasons and bands', () => {
  assert.equal(statusMessage(-111), 'ECONNREFUSED: Connection refused');
  assert.equal(statusMessage(-125), 'ECANCELED: Operation Canceled');
  assert.equal(statusMessage(-110), 'ETIMEDOUT: Connection timed out');
  assert.equal(statusMessage(-404), 'HTTP 404 Not Found');
  assert.equal(statusMessage(-503), 'HTTP 503 Service Unavailable');
  assert.equal(statusMessage(-599), 'HTTP 599');
  assert.equal(statusMessage(-150), 'errno 150');
  assert.equal(statusMessage(0), 'success');
  assert.equal(statusMessage(-999), 'unhandled error');
  assert.equal(statusMessage(-990), 'retry required');
  assert.equal(statusMessage(-995), 'retry required (-995)');
  assert.equal(statusMessage(-980), 'retry optional');
  assert.equal(statusMessage(-970), 'retry later');
  assert.equal(statusMessage(-900), 'not repeatable');
  assert.equal(statusMessage(1), 'init');
  assert.equal(statusMessage(100), 'in process');
  assert.equal(statusMessage(800), 'callback');
  assert.equal(statusMessage(950), 'reserved (950)');
  for (let code = -999; code <= 999; code++) assert.equal(typeof statusMessage(code), 'string');
});

test('fromErrno takes a name or a Linux number and returns -errno', () => {
  assert.equal(fromErrno('ECONNREFUSED'), -111);
  assert.equal(fromErrno('ECANCELED'), -125);
  assert.equal(fromErrno('ETIMEDOUT'), -110);
  assert.equal(fromErrno('EPERM'), -1);
  assert.equal(fromErrno('ERANGE'), -34);
  assert.equal(fromErrno('EHWPOISON'), -133);
  assert.equal(fromErrno('EWOULDBLOCK'), fromErrno('EAGAIN'));
  assert.equal(fromErrno('ENOTSUP'), fromErrno('EOPNOTSUPP'));
  assert.equal(fromErrno(111), -111);
  assert.equal(fromErrno(-111), -111);
  assert.equal(fromErrno(1), -1);
  assert.equal(fromErrno(199), -199);
});

test('fromErrno rejects unknown names and numbers out of range with a code', () => {
  assert.throws(() => fromErrno('ENOPE'), { name: 'RangeError', code: 'ERR_UNKNOWN_ERRNO' });
  assert.throws(() => fromErrno('econnrefused'), { name: 'RangeError', code: 'ERR_UNKNOWN_ERRNO' });
  assert.throws(() => fromErrno(0), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => fromErrno(200), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => fromErrno(1.5), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => fromErrno(NaN), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => fromErrno(null), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => fromErrno({}), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
});

test('the embedded errno table uses Linux numbers (and agrees with the host on Linux)', () => {
  // Numbers that differ between Linux and the BSDs: Linux's must win everywhere.
  assert.equal(fromErrno('EAGAIN'), -11);
  assert.equal(fromErrno('EINPROGRESS'), -115);
  assert.equal(fromErrno('ECONNRESET'), -104);
  assert.equal(fromErrno('EADDRINUSE'), -98);
  if (process.platform === 'linux') {
    let checked = 0;
    for (const [name, n] of Object.entries(os.constants.errno)) {
      assert.equal(fromErrno(name), -n, name);
      checked++;
    }
    assert.ok(checked > 50);
  }
});

test('fromHttpStatus maps 200…599 to -status and rejects the rest', () => {
  assert.equal(fromHttpStatus(200), -200);
  assert.equal(fromHttpStatus(404), -404);
  assert.equal(fromHttpStatus(599), -599);
  for (const bad of [199, 600, 0, -404, 404.5, NaN, 1000]) {
    assert.throws(() => fromHttpStatus(bad), RangeError, `status ${bad}`);
  }
  assert.throws(() => fromHttpStatus('404'), TypeError);
  for (let n = 200; n <= 599; n++) assert.equal(statusCategory(fromHttpStatus(n)), 'http');
});

test('isRetryable is true for the three retry bands only', () => {
  for (let code = -999; code <= 999; code++) {
    assert.equal(isRetryable(code), code >= -998 && code <= -970, `code ${code}`);
  }
  assert.throws(() => isRetryable(-1000), RangeError);
});

test('statusOfError: a negative in-range status on the error wins', () => {
  assert.equal(statusOfError(Object.assign(new Error('x'), { status: -975 })), -975);
  assert.equal(statusOfError(Object.assign(new Error('x'), { status: -404, code: 'ECONNREFUSED' })), -404);
  // Out of range, non-integer, or a non-failure code: ignored.
  assert.equal(statusOfError(Object.assign(new Error('x'), { status: -1000 })), -999);
  assert.equal(statusOfError(Object.assign(new Error('x'), { status: 0 })), -999);
  assert.equal(statusOfError(Object.assign(new Error('x'), { status: 200 })), -999);
  assert.equal(statusOfError(Object.assign(new Error('x'), { status: '-111' })), -999);
});

test('statusOfError maps an OS error by its errno code', async () => {
  const net = require('net');
  // A port that was just listening and is now closed refuses: a real ECONNREFUSED.
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  const err = await new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', resolve);
  });
  assert.equal(err.code, 'ECONNREFUSED');
  assert.equal(statusOfError(err), -111);
  assert.equal(statusOfError(Object.assign(new Error('x'), { code: 'EPIPE' })), -32);
  assert.equal(statusOfError(Object.assign(new Error('x'), { code: 'ERR_SOMETHING' })), -999);
});

test('statusOfError recognises cancellation and time-out, and defaults to -999', () => {
  class CancelledError extends Error {
    constructor() {
      super('cancelled');
      this.name = 'CancelledError';
    }
  }
  class TimeoutError extends Error {
    constructor() {
      super('timed out');
      this.name = 'TimeoutError';
    }
  }
  assert.equal(statusOfError(new CancelledError()), -125);
  assert.equal(statusOfError(new TimeoutError()), -110);
  assert.equal(statusOfError(new DOMException('aborted', 'AbortError')), -125);
  assert.equal(statusOfError(new DOMException('timed out', 'TimeoutError')), -110);
  assert.equal(statusOfError(new Error('plain')), -999);
  assert.equal(statusOfError(new TypeError('plain')), -999);
  assert.equal(statusOfError('a string'), -999);
  assert.equal(statusOfError(undefined), -999);
  assert.equal(statusOfError(null), -999);
});

test('the status errors carry code and status and feed statusOfError', () => {
  const cases = [
    [new RetryRequiredError(), 'ERR_RETRY_REQUIRED', -990, 'RetryRequiredError'],
    [new RetryOptionalError(), 'ERR_RETRY_OPTIONAL', -980, 'RetryOptionalError'],
    [new RetryLaterError(), 'ERR_RETRY_LATER', -970, 'RetryLaterError'],
    [new NotRepeatableError(), 'ERR_NOT_REPEATABLE', -900, 'NotRepeatableError'],
    [new HttpError(503), 'ERR_HTTP_STATUS', -503, 'HttpError'],
  ];
  for (const [err, code, status, name] of cases) {
    assert.ok(err instanceof Error);
    assert.equal(err.code, code);
    assert.equal(err.status, status);
    assert.equal(err.name, name);
    assert.equal(statusOfError(err), status);
  }
  assert.equal(new HttpError(503).message, 'HTTP 503 Service Unavailable');
  const e = new HttpError(404, 'no such user');
  assert.equal(e.message, 'no such user');
  assert.equal(e.statusCode, 404);
  assert.ok(isRetryable(new RetryLaterError().status));
  assert.ok(!isRetryable(new NotRepeatableError().status));
});

test('a status error may pick a code inside its own band only', () => {
  assert.equal(new RetryRequiredError('x', { status: -995 }).status, -995);
  assert.equal(new NotRepeatableError('x', { status: -920 }).status, -920);
  assert.throws(() => new RetryRequiredError('x', { status: -980 }), RangeError);
  assert.throws(() => new RetryLaterError('x', { status: -1000 }), RangeError);
  const cause = new Error('root');
  assert.equal(new RetryOptionalError('x', { cause }).cause, cause);
  assert.throws(() => new HttpError(700), RangeError);
  assert.throws(() => new HttpError(199), RangeError);
});
