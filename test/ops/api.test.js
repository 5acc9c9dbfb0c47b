'use strict';
// The REST API suite (api-suite.js) on the embedded store: the memory queue and run records.
require('./api-suite')({ kind: 'memory' });
