'use strict';
// `npm run bench`: runs each bench file in turn (each prints its own table).
const { execFileSync } = require('child_process');
const path = require('path');
const files = ['loop.js', 'promise-hooks.js', 'await-designs.js', 'sync.js', 'pool.js', 'pool-client.js', 'connections.js', 'subprocess.js', 'tls.js', 'ops.js', 'api.js'];
for (const f of files) {
  console.log(`\n=== bench/${f}`);
  execFileSync(process.execPath, [path.join(__dirname, f)], { stdio: 'inherit' });
}
