'use strict';
// connectionPool: a Pool of { reader, writer } stream connections to one host and port, over
// real sockets on 127.0.0.1.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { run, startServer, connectionPool, gather, Pool, createLogger } = require('evloop');

/** A line server: echoes each line with the connection's number; 'quit' closes the connection. */
async function lineServer() {
  let connections = 0;
  const server = await startServer(async (reader, writer) => {
    const id = ++connections;
    for await (const line of reader) {
      if (line.toString() === 'quit\n') break;
      writer.write(Buffer.from(`${id}:${line}`));
      await writer.drain();
    }
    writer.close();
  }, '127.0.0.1', 0);
  return { server, port: server.address().port, count: () => connections };
}

async function ask(conn, text) {
  conn.writer.write(Buffer.from(`${text}\n`));
  return (await conn.reader.readLine()).toString();
}

test('connectionPool hands out ready stream connections and reuses them', () =>
  run(async () => {
    const { server, port, count } = await lineServer();
    const pool = connectionPool('127.0.0.1', port, { max: 2 });
    assert.ok(pool instanceof Pool);
    const replies = await gather(...Array.from({ length: 20 }, (_, i) => pool.use(async (conn) => ask(conn, `req ${i}`))));
    replies.forEach((r, i) => assert.match(r, new RegExp(`^[12]:req ${i}\\n$`)));
    assert.equal(count(), 2, 'never more than max connections');
    assert.ok(pool.size <= 2);
    pool.close();
    await pool.waitClosed();
    server.close();
    await server.waitClosed();
  }));

test('connectionPool drops an idle connection the server closed (EOF) and opens a fresh one', () =>
  run(async () => {
    const { server, port, count } = await lineServer();
    const pool = connectionPool('127.0.0.1', port, { max: 1, limit: 1024 });
    const first = await pool.acquire();
    assert.equal(await ask(first, 'hello'), '1:hello\n');
    first.writer.write(Buffer.from('quit\n'));
    assert.equal((await first.reader.read()).length, 0, 'the server closed it');
    pool.release(first);
    const second = await pool.acquire();
    assert.notEqual(second, first);
    assert.equal(first.writer.isClosing(), true, 'the dead one was destroyed (closed)');
    assert.equal(await ask(second, 'again'), '2:again\n');
    assert.equal(count(), 2);
    pool.release(second);
    pool.close();
    await pool.waitClosed();
    server.close();
    await server.waitClosed();
  }));

test('connectionPool: an extra validate runs after the built-in check; a refused create fails acquire with ECONNREFUSED', () =>
  run(async () => {
    const { server, port } = await lineServer();
    let checks = 0;
    const pool = connectionPool('127.0.0.1', port, {
      max: 1,
      validate: () => {
        checks++;
        return false;
      },
    });
    const a = await pool.acquire();
    pool.release(a);
    const b = await pool.acquire();
    assert.equal(checks, 1);
    assert.notEqual(a, b);
    pool.release(b);
    pool.close();
    await pool.waitClosed();
    server.close();
    await server.waitClosed();
    const logged = [];
    const refused = connectionPool('127.0.0.1', port, { max: 1, logger: createLogger({ sink: (line) => logged.push(line) }) });
    await assert.rejects(refused.acquire(), { code: 'ECONNREFUSED' });
    assert.ok(logged.some((line) => line.includes('ECONNREFUSED')));
    refused.close();
    assert.throws(() => connectionPool('127.0.0.1', port, { max: 1, validate: 'yes' }), { name: 'TypeError' });
  }));
