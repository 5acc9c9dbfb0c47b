'use strict';
// The echo rig's Node `net` server (`npm run bench:echo`): --port 0 takes a free port, and the
// port it got is printed as "listening on 127.0.0.1:PORT".
const net = require('node:net');

const i = process.argv.indexOf('--port');
const port = i > 0 ? Number(process.argv[i + 1]) : NaN;
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error('usage: node bench/net-echo-server.js --port N');
  process.exit(2);
}
const server = net.createServer({ noDelay: true }, (socket) => {
  socket.setNoDelay(true);
  // Back-pressure as Node intends it: stop reading a client while its replies are not taken.
  socket.on('data', (d) => {
    if (!socket.write(d)) {
      socket.pause();
      socket.once('drain', () => socket.resume());
    }
  });
  socket.on('error', () => {});
});
server.listen({ port, host: '127.0.0.1', backlog: 1024 }, () => console.log(`listening on 127.0.0.1:${server.address().port}`));
