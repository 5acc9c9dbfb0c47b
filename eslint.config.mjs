// npm run lint — ESLint with typescript-eslint's recommended rules for lib/, and the core
// JavaScript rules for tests, benches, examples and scripts. Formatting is not linted.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/**', 'build/**', 'build-cmake/**', 'prebuilds/**', 'node_modules/**', 'bench/results/**', 'test-artifacts/**', '.doc-programs-*/**'] },
  {
    files: ['lib/**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    rules: {
      // Callback signatures mirror asyncio's (...args: any[]): the loop cannot know them.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Empty interfaces are the public extension points (RunOptions extends EventLoopOptions).
      '@typescript-eslint/no-empty-object-type': 'off',
      // Aliasing `this` is how the loop hands itself to closures on the hot path without binding.
      '@typescript-eslint/no-this-alias': 'off',
      // Node 20 defines the global Buffer as an accessor on globalThis: each use is a getter call
      // through the global-load IC (about 120 instructions; it showed per message in the echo).
      'no-restricted-globals': ['error', { name: 'Buffer', message: "import { Buffer } from 'node:buffer' (the global is an accessor)" }],
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    extends: [js.configs.recommended],
    languageOptions: { sourceType: 'commonjs', globals: { ...globals.node } },
    rules: {
      'no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      'no-empty': ['error', { allowEmptyCatch: true }],
      // A generator coroutine that never waits is a coroutine all the same (an async def without await).
      'require-yield': 'off',
    },
  },
  {
    files: ['**/*.mjs'],
    extends: [js.configs.recommended],
    languageOptions: { sourceType: 'module', globals: { ...globals.node } },
  },
);
