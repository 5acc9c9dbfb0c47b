'use strict';
// RedisLease against a real redis-server: renewals cost one script call each (the script is
// loaded once per connection), and a restart of Redis (appendonly) keeps the lease, its holder
// and its fencing token; while Redis is away, acquire fails rather than answering "held elsewhere".
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { run, RedisQueue, RedisLease } = require('evloop');
const { startRedisServer } = require('../helpers/redis-server');

/** Calls of `command` so far, from INFO commandstats (e.g. 'script|load', 'evalsha'). */
async function calls(server, command) {
  const info = await server.command('INFO', 'commandstats');
  const m = new RegExp(`^cmdstat_${command.replace('|', '\\|')}:calls=(\\d+)`, 'm').exec(info);
  return m ? Number(m[1]) : 0;
}

test('RedisLease: renewals load the scripts once per connection; a Redis restart keeps the holder and its token', async () => {
  const server = await startRedisServer({ appendonly: true });
  try {
    await run(async () => {
      const queue = new RedisQueue({ url: server.url, name: 'lease-restart' });
      const other = new RedisQueue({ url: server.url, name: 'lease-restart' });
      const lease = new RedisLease(queue, { ttl: 60_000, holder: 'a' });
      const rival = new RedisLease(other, { ttl: 60_000, holder: 'b' });
      const token = await lease.acquire();
      assert.equal(typeof token, 'number');
      const loadsBefore = await calls(server, 'script|load');
      for (let i = 0; i < 20; i++) assert.equal(await lease.acquire(), token);
      assert.equal(await calls(server, 'script|load'), loadsBefore, 'renewals send no SCRIPT LOAD');
      assert.equal(await rival.acquire(), null);
      const left = rival.nextAsk();
      assert.ok(left > 0 && left <= 60_000, `the rival learns when the lease runs out (${left} ms)`);

      // Redis away: acquire fails (the scanner stands by and asks again), it does not say "held elsewhere".
      await server.kill('SIGTERM');
      await assert.rejects(Promise.resolve(lease.acquire()), (err) => ['ECONNREFUSED', 'ERR_REDIS_CONNECTION_LOST'].includes(err.code));
      await server.start();
      // Its script cache is empty now; the lease, its expiry and the token came back from the file.
      assert.equal(await lease.acquire(), token, 'the holder keeps its lease and token across the restart');
      assert.equal(await rival.acquire(), null, 'the rival still may not take it');
      const pttl = Number(await server.command('PTTL', 'evloop:queue:{lease-restart}:lease'));
      assert.ok(pttl > 0 && pttl <= 60_000, `the lease kept an expiry (${pttl} ms)`);
      await lease.release();
      assert.equal(await rival.acquire(), token + 1, 'a takeover raises the token');
      await queue.close();
      await other.close();
    });
  } finally {
    await server.stop();
  }
});
