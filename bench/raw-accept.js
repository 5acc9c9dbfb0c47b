'use strict';
// The accept loop of the benches written straight on the native binding (bench/echo-raw.js,
// bench/echo-floor.js): every pending connection, with TCP_NODELAY, handed to `onConnection`.

/** Accepts until the listener would block; an error (EMFILE and friends) waits for the next readiness. */
function acceptAll(binding, listener, onConnection) {
  for (;;) {
    let fd;
    try {
      fd = binding.accept(listener);
    } catch {
      return;
    }
    if (fd < 0) return;
    binding.setsockopt(fd, 'TCP_NODELAY', 1);
    onConnection(fd);
  }
}

module.exports = { acceptAll };
