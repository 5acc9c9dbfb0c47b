'use strict';
// Shared by the pool tests: a plain Node `net` client socket to 127.0.0.1, resolved once
// connected (later socket errors are ignored: the tests watch the pool, not the socket).
const net = require('node:net');

function connect(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.removeListener('error', reject);
      socket.on('error', () => {});
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

module.exports = { connect };
