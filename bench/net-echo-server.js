'use strict';
// The rig's Node `net` echo server (../shared/bench/echo_net.js), which also takes --port 0 and
// prints the port it got, for the benches that start servers themselves.
const net = require('node:net');

const i = process.argv.indexOf('--port');
const port = i > 0 ? Number(process.argv[i + 1]) : NaN;
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error('usage: node bench/net-echo-server.js --port N');
  process.exit(2);
}
const server = net.createServer({ noDelay: true }, (socket) => {
  socket.setNoDelay(true);
  socket.on('data', (d) => socket.write(d));
  socket.on('error', () => {});
});
server.listen({ port, host: '127.0.0.1', backlog: 1024 }, () => console.log(`listening on 127.0.0.1:${server.address().port}`));
