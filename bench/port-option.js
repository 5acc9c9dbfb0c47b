'use strict';
// The `--port N` every bench server takes (0 picks a free port), checked; a bad value prints the
// server's usage line and exits with 2.
function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
}

function portOption(usage) {
  const port = Number(option('--port', NaN));
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`usage: ${usage}`);
    process.exit(2);
  }
  return port;
}

module.exports = { option, portOption };
