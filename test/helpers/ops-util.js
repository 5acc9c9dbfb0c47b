'use strict';
// Shared by the task-operations tests: a capturing logger, and waits driven by the TaskOps
// change notifications (no sleeps as synchronisation).
const { createLogger } = require('evloop');

function captureLogger(level = 'debug') {
  const lines = [];
  const logger = createLogger({ level, sink: (line, lvl) => lines.push({ line, level: lvl }) });
  return { logger, lines, text: () => lines.map((l) => l.line).join('\n') };
}

/** Resolves once `predicate()` holds, checked now and after every change `ops` reports. */
function until(ops, predicate) {
  return new Promise((resolve, reject) => {
    let off = () => {};
    const check = () => {
      let ok;
      try {
        ok = predicate();
      } catch (err) {
        off();
        reject(err);
        return;
      }
      if (ok) {
        off();
        resolve(ok);
      }
    };
    off = ops.onChange(() => queueMicrotask(check));
    check();
  });
}

/** Resolves to the runs once every id has finished (endedAt set). */
async function finished(ops, ids) {
  await until(ops, () => ids.every((id) => ops.registry.get(id)?.endedAt !== undefined));
  return Promise.all(ids.map((id) => ops.getRun(id)));
}

/** An error carrying a status code (what a handler throws to pick its band). */
function statusError(status, message = `failed with ${status}`) {
  const err = new Error(message);
  err.status = status;
  return err;
}

module.exports = { captureLogger, until, finished, statusError };
