'use strict';
// The Redis client against ioredis on the same redis-server in one run. Rows: GET/SET on one
// connection, one command at a time; 64 concurrent callers, each one command at a time; pipelined
// batches of 100 commands. Each (client, row) runs in its own child process, rounds alternate the
// order, and the table shows medians of commands per second and the ratio to ioredis.
// `evloop-streams` is the same client core (parser, encoder, in-order replies) driven through
// evloop streams (openConnection + a reader task) instead of a Protocol: the Protocol/streams
// measurement behind the client's design. `ioredis-auto` is ioredis with enableAutoPipelining (its
// commands of one tick written together, as evloop's are); the ratio column is against plain
// ioredis, its default.
// usage: node bench/redis.js [--seconds 2] [--rounds 3] [--clients evloop,evloop-streams,ioredis,ioredis-auto]
//                            [--rows seq,c64,pipe100]
const { execFileSync } = require('node:child_process');
const { record } = require('./summary');

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
}

const ROWS = {
  seq: 'GET/SET, 1 connection, sequential',
  c64: 'GET/SET, 64 concurrent callers',
  pipe100: 'GET/SET, pipelined batches of 100',
};

// ---- one measurement, in a child process -----------------------------------------------------

// Each body runs commands until the deadline and returns how many it ran. `cmd(name, ...args)`
// is the client's way to send one command and get a promise-like of its reply.
async function workload(row, cmd, deadline) {
  const value = 'v'.repeat(32);
  let n = 0;
  if (row === 'seq') {
    while (performance.now() < deadline) {
      for (let i = 0; i < 100; i++) {
        await cmd('set', `k${i}`, value);
        await cmd('get', `k${i}`);
      }
      n += 200;
    }
  } else if (row === 'c64') {
    await Promise.all(
      Array.from({ length: 64 }, async (_, w) => {
        const key = `c${w}`;
        while (performance.now() < deadline) {
          for (let i = 0; i < 20; i++) {
            await cmd('set', key, value);
            await cmd('get', key);
          }
          n += 40;
        }
      }),
    );
  } else {
    while (performance.now() < deadline) {
      const batch = new Array(100);
      for (let i = 0; i < 100; i += 2) {
        batch[i] = cmd('set', `p${i}`, value);
        batch[i + 1] = cmd('get', `p${i}`);
      }
      await Promise.all(batch);
      n += 100;
    }
  }
  return n;
}

async function measureWith(row, seconds, cmd) {
  await workload(row, cmd, performance.now() + 300); // warm-up
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const n = await workload(row, cmd, t0 + seconds * 1000);
  const elapsed = (performance.now() - t0) / 1000;
  const { user, system } = process.cpuUsage(cpu0);
  return { perSecond: n / elapsed, cpuUsPerCommand: (user + system) / n };
}

async function child(client, row, port, seconds) {
  if (client === 'ioredis' || client === 'ioredis-auto') {
    const Redis = require('ioredis');
    const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, enableAutoPipelining: client === 'ioredis-auto' });
    await r.connect();
    const cmd = (name, ...args) => r[name](...args);
    const result = await measureWith(row, seconds, cmd);
    r.disconnect();
    return result;
  }
  const { run, createRedisClient } = require('..');
  if (client === 'evloop') {
    return run(async () => {
      const c = createRedisClient({ port });
      const cmd = (name, ...args) => c[name](...args);
      const result = await measureWith(row, seconds, cmd);
      await c.close();
      return result;
    });
  }
  // evloop-streams: openConnection, a reader task feeding the parser, writes batched per pass.
  const { openConnection, getRunningLoop } = require('..');
  const { RespParser, CommandEncoder } = require('evloop/internal');
  return run(async () => {
    const loop = getRunningLoop();
    const [reader, writer] = await openConnection('127.0.0.1', port);
    const waiting = [];
    let head = 0;
    const settle = (ok) => (v) => {
      const f = waiting[head];
      waiting[head++] = undefined;
      if (head === waiting.length) waiting.length = head = 0;
      if (ok) f.setResult(v);
      else f.setException(v);
    };
    const parser = new RespParser({ onReply: settle(true), onError: settle(false) });
    const encoder = new CommandEncoder();
    let scheduled = false;
    const flush = () => {
      scheduled = false;
      writer.write(encoder.take());
    };
    const cmd = (name, ...args) => {
      args.unshift(name);
      encoder.add(args);
      const f = loop.createFuture();
      waiting.push(f);
      if (!scheduled) {
        scheduled = true;
        loop.callSoon(flush);
      }
      return f;
    };
    let stop = false;
    const readerTask = loop.createTask(
      (function* () {
        while (!stop) {
          const data = yield* reader.read(256 * 1024);
          if (data.length === 0) return;
          parser.feed(data);
        }
      })(),
    );
    const result = await measureWith(row, seconds, cmd);
    stop = true;
    writer.close();
    readerTask.cancel();
    return result;
  });
}

// ---- the parent: server, rounds, table -------------------------------------------------------

async function main() {
  const seconds = Number(option('--seconds', '2'));
  const rounds = Number(option('--rounds', '3'));
  const clients = option('--clients', 'evloop,evloop-streams,ioredis,ioredis-auto').split(',');
  const rows = option('--rows', Object.keys(ROWS).join(',')).split(',');
  const { startRedisServer } = require('../test/helpers/redis-server');
  const server = await startRedisServer();
  const results = {};
  try {
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? clients : [...clients].reverse();
      for (const row of rows) {
        for (const client of order) {
          const out = execFileSync(process.execPath, [__filename, '--child', client, row, String(server.port), String(seconds)], { encoding: 'utf8' });
          ((results[row] ??= {})[client] ??= []).push(JSON.parse(out));
          process.stderr.write(`round ${round + 1}/${rounds} ${row} ${client}: ${Math.round(JSON.parse(out).perSecond)}/s\n`);
        }
      }
    }
  } finally {
    await server.stop();
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const pad = (s, n) => String(s).padStart(n);
  console.log(`redis-server ${execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).match(/v=(\S+)/)[1]}, ${rounds} rounds x ${seconds} s, medians`);
  console.log(`${'row'.padEnd(36)}${'client'.padEnd(16)}${pad('cmds/s', 12)}${pad('cpu us/cmd', 12)}${pad('vs ioredis', 12)}`);
  for (const row of rows) {
    const base = results[row].ioredis ? median(results[row].ioredis.map((r) => r.perSecond)) : null;
    for (const client of clients) {
      const rs = results[row][client];
      const ps = median(rs.map((r) => r.perSecond));
      const cpu = median(rs.map((r) => r.cpuUsPerCommand));
      if (client.startsWith("evloop") && base) record(`Redis client / ioredis, ${ROWS[row]}: ${client}`, ps / base, row === 'pipe100' ? 1.5 : 1, `${cpu.toFixed(2)} us CPU/cmd`);
      console.log(`${ROWS[row].padEnd(36)}${client.padEnd(16)}${pad(Math.round(ps).toLocaleString('en-US'), 12)}${pad(cpu.toFixed(2), 12)}${pad(base ? (ps / base).toFixed(2) + 'x' : '-', 12)}`);
    }
  }
}

if (process.argv[2] === '--child') {
  const [, , , client, row, port, seconds] = process.argv;
  child(client, row, Number(port), Number(seconds)).then(
    (r) => {
      process.stdout.write(JSON.stringify(r));
      process.exit(0);
    },
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
} else {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
