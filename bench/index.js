'use strict';
// `npm run bench`: runs each bench file in turn (each prints its own table).
const { execFileSync } = require('child_process');
const path = require('path');
const files = ['loop.js', 'promise-hooks.js', 'await-designs.js', 'sync.js', 'pool.js', 'pool-client.js', 'connections.js', 'subprocess.js', 'tls.js', 'ops.js', 'api.js', 'redis.js', 'redis-queue.js'];
for (const f of files) {
  console.log(`\n=== bench/${f}`);
  if ((f === 'redis.js' || f === 'redis-queue.js') && !hasRedisServer()) {
    console.log('skipped: no redis-server on PATH (apt-get install redis-server)');
    continue;
  }
  execFileSync(process.execPath, [path.join(__dirname, f)], { stdio: 'inherit' });
}

function hasRedisServer() {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
