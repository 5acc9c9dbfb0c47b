'use strict';
// Streams over TLS: openConnection / startServer with `tls` (asyncio's open_connection(ssl=…)
// and start_server(ssl=…); CPython's test_streams.py test_open_connection_ssl /
// test_start_server over TLS), on 127.0.0.1 with a throwaway CA.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { run, openConnection, startServer } = require('evloop');
const { makeCerts } = require('../helpers/tls-certs.js');

const certs = makeCerts();

test('openConnection / startServer over TLS: lines, then several MiB with drain', async () => {
  await run(async () => {
    const SIZE = 4 * 1024 * 1024;
    const server = await startServer(
      async (reader, writer) => {
        const line = await reader.readLine();
        writer.write(Buffer.from(`echo ${line}`));
        const body = await reader.readExactly(SIZE);
        writer.write(body);
        await writer.drain();
        writer.close();
      },
      '127.0.0.1',
      0,
      { tls: { key: certs.server.key, cert: certs.server.cert } },
    );
    const port = server.sockets[0].address.port;
    const [reader, writer] = await openConnection('127.0.0.1', port, { tls: { ca: certs.ca }, serverHostname: 'localhost' });
    assert.equal(writer.getExtraInfo('peercert').subject.CN, 'localhost');
    writer.write(Buffer.from('hi\n'));
    assert.equal(String(await reader.readLine()), 'echo hi\n');
    const payload = Buffer.alloc(SIZE, 7);
    writer.write(payload);
    await writer.drain();
    const back = await reader.readExactly(SIZE);
    assert.ok(back.equals(payload));
    assert.equal((await reader.read()).length, 0); // EOF after the server's close_notify
    writer.close();
    await writer.waitClosed();
    server.close();
  });
});

test('openConnection over TLS rejects a bad certificate with Node\'s code', async () => {
  await run(async () => {
    const server = await startServer((r, w) => w.close(), '127.0.0.1', 0, { tls: certs.self });
    const port = server.sockets[0].address.port;
    await assert.rejects(openConnection('127.0.0.1', port, { tls: { ca: certs.ca } }), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    server.close();
  });
});
