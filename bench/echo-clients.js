'use strict';
// The streams echo client handlers the in-process echo benches serve (bench/echo-server.js has
// the rig's own copy with its comments): read up to 64 KiB, write it back, drain.

async function echoAsync(reader, writer) {
  for (;;) {
    const data = await reader.read(65536);
    if (data.length === 0) break;
    writer.write(data);
    await writer.drain();
  }
  writer.close();
}

function* echoGenerator(reader, writer) {
  for (;;) {
    const data = yield* reader.read(65536);
    if (data.length === 0) break;
    writer.write(data);
    yield* writer.drain();
  }
  writer.close();
}

module.exports = { echoAsync, echoGenerator };
