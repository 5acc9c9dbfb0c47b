'use strict';
// createRedisClient() with no URL reads REDIS_URL (docs/redis.md), and a bad one is a clear error.
const test = require('node:test');
const assert = require('node:assert/strict');
const { run, createRedisClient } = require('evloop');

function withEnv(value, fn) {
  const saved = process.env.REDIS_URL;
  if (value === undefined) delete process.env.REDIS_URL;
  else process.env.REDIS_URL = value;
  try {
    return fn();
  } finally {
    if (saved === undefined) delete process.env.REDIS_URL;
    else process.env.REDIS_URL = saved;
  }
}

test('no URL: REDIS_URL when set, else 127.0.0.1:6379; an explicit URL wins', () =>
  run(async () => {
    const fromEnv = withEnv('redis://127.0.0.2:7000/2', () => createRedisClient());
    assert.equal(fromEnv.options.host, '127.0.0.2');
    assert.equal(fromEnv.options.port, 7000);
    assert.equal(fromEnv.options.db, 2);
    const local = withEnv(undefined, () => createRedisClient());
    assert.equal(local.options.host, '127.0.0.1');
    assert.equal(local.options.port, 6379);
    const explicit = withEnv('redis://127.0.0.2:7000', () => createRedisClient('redis://127.0.0.1:6390'));
    assert.equal(explicit.options.port, 6390);
    for (const c of [fromEnv, local, explicit]) await c.close();
  }));

test('a REDIS_URL that is no redis:// URL is a TypeError naming REDIS_URL', () =>
  run(async () => {
    withEnv('http://example', () =>
      assert.throws(() => createRedisClient(), (e) => e instanceof TypeError && e.code === 'ERR_INVALID_ARG_VALUE' && /REDIS_URL/.test(e.message)),
    );
  }));
