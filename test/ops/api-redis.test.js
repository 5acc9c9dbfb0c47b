'use strict';
// The REST API suite (api-suite.js) with the queue and the run records on a real redis-server.
const { startRedisServer } = require('../helpers/redis-server');

let server;
require('./api-suite')({
  kind: 'redis',
  setup: async () => {
    server = await startRedisServer();
    return { redis: server.url };
  },
  teardown: () => server?.stop(),
});
