#!/usr/bin/env node
'use strict';
// The `evloop-tasks` command (package.json "bin"); the program is lib/cli/evloop-tasks.ts.
const { main } = require('../dist/cli/evloop-tasks');

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
