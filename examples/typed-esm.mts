// Compiled (not run) by test/types.test.js: the ESM entry's types (`import` condition, index.d.mts).
import { run, sleep, Selector, EVENT_READ, type Future } from 'evloop';

const sel = new Selector();
const backend: string = sel.backend;
sel.close();
await run(function* () {
  const ms: number = yield* sleep(1, EVENT_READ);
  return ms;
});
export const typedFuture = (f: Future<string>): Future<string> => f;
export { backend };
