'use strict';
// README's first command runs examples/demo.js: keep it working.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const path = require('node:path');

test('the demo exchanges messages with an evloop server and exits cleanly', () => {
  const out = execFileSync(process.execPath, [path.join(__dirname, '..', '..', 'examples', 'demo.js')], { encoding: 'utf8', timeout: 60_000 });
  assert.match(out, /got "echo: hello, evloop"/);
  assert.match(out, /got "echo: asyncio, for Node\.js"/);
  assert.match(out, /sent a 1048576-byte line, got 1048582 bytes back/);
  assert.match(out, /task status -125 \(cancelled\)/);
  assert.match(out, /\ndone\n$/);
});
