'use strict';
// tsc never deletes outputs of moved or removed sources: start every build from an empty dist/.
require('fs').rmSync(require('path').join(__dirname, '..', 'dist'), { recursive: true, force: true });
