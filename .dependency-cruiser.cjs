// The layering rule of docs/architecture.md, enforced by `npm test` (test/integration/layers.test.js).
// A folder of lib/ may import only from itself and from folders listed BEFORE it.
// Type-only imports count: tsPreCompilationDeps keeps them in the graph.
const LAYERS = require('./scripts/layers.cjs');

const upward = LAYERS.map((layer, i) => ({
  name: `layer-${layer}`,
  comment: `lib/${layer}/ may import only from ${['itself', ...LAYERS.slice(0, i)].join(', ')}`,
  severity: 'error',
  from: { path: `^lib/${layer}/` },
  to: { path: `^lib/(?!(?:${LAYERS.slice(0, i + 1).join('|')})/)[^/]+/` },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'No file of lib/ may sit in an import cycle, type-only imports included.',
      severity: 'error',
      from: { path: '^lib/' },
      to: { circular: true },
    },
    {
      name: 'no-import-of-entry',
      comment: 'Only entry points are at the top: nothing inside lib/ imports them.',
      severity: 'error',
      from: { path: '^lib/[^/]+/' },
      to: { path: '^lib/(?:index|internal)\\.ts$' },
    },
    ...upward,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    moduleSystems: ['cjs', 'es6'],
  },
};
