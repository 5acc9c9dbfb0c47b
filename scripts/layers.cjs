'use strict';
// The layers of lib/, lowest first (docs/architecture.md). A folder may import only from itself
// and from folders before it. Read by .dependency-cruiser.cjs and test/integration/layers.test.js.
module.exports = ['util', 'native', 'core', 'sync', 'queues', 'threads', 'io', 'streams', 'subprocess', 'pool', 'redis', 'ops', 'cli'];
