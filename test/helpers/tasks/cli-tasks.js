'use strict';
// A tasks file for the CLI tests: the scan queues one `hold` run, which tells the test (on
// stdout) when it has started and then takes HOLD_MS milliseconds.
const { sleep } = require('evloop');

module.exports = {
  tasks: {
    hold: {
      *run(params) {
        process.stdout.write('hold started\n');
        yield* sleep(params.ms);
        return 'held';
      },
    },
    quick: { run: () => 1 },
  },
  due: () => [{ task: 'hold', key: 'held', params: { ms: Number(process.env.HOLD_MS || 300) } }],
};
