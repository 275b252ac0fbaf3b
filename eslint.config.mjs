// Lint config: the recommended TypeScript rules everywhere; production code (src, workers,
// config) is linted with type information (recommendedTypeChecked: no floating promises, no
// unsafe `any` flows, no unbound methods) plus exhaustive switches. Tests, web pages and tools
// keep the untyped recommended set: supertest response bodies are `any` by design, so the
// no-unsafe-* rules would flag every assertion on a response without catching anything real.
// A ban on console.* in the service (logs go through the structured logger; the CLI and tools
// print on purpose).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const production = ['src/**/*.ts', 'workers/**/*.ts', 'config/**/*.ts'];

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'data/', 'bin/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked.map((c) => ({ ...c, files: production })),
  {
    files: production,
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      // A switch over a union names every member, even beside a default: a new role or state
      // then forces a decision at each access check instead of falling into `default`.
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
    },
  },
  {
    files: production,
    ignores: ['src/cli/**'],
    rules: { 'no-console': 'error' },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    files: ['tools/**/*.mjs', 'web/*.mjs', '**/*.cjs'],
    languageOptions: { globals: { process: 'readonly', Buffer: 'readonly', console: 'readonly', require: 'readonly', module: 'writable', __dirname: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
