// Lint config: the recommended TypeScript rules everywhere; production code (src, workers,
// config) is linted with type information (recommendedTypeChecked: no floating promises, no
// unsafe `any` flows, no unbound methods) plus exhaustive switches. Tests, web pages and tools
// keep the untyped recommended set: supertest response bodies are `any` by design, so the
// no-unsafe-* rules would flag every assertion on a response without catching anything real.
// A ban on console.* in the service (logs go through the structured logger; the CLI and tools
// print on purpose).
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const production = ['src/**/*.ts', 'workers/**/*.ts', 'config/**/*.ts'];

// Module boundaries: a module's `*.model` files (its mongoose models, i.e. its data) are imported
// only inside that module; another module reads that data through the owner's service. Type-only
// imports (a `*Doc` shape) are allowed: they carry no access. Exceptions, each on purpose:
// - src/modules/models.ts registers every model before ensureIndexes() (workers, CLI);
// - src/cli/backup.ts dumps and restores every collection;
// - src/cli/generate.ts writes synthetic counties in bulk (insertMany) for the bench;
// - tests, bench and tools (not production code) may read any model to set up or check state.
const modules = readdirSync(join(import.meta.dirname, 'src/modules'), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name);
const boundaryExceptions = ['src/modules/models.ts', 'src/cli/backup.ts', 'src/cli/generate.ts'];
const modelImports = (allowed) => [
  'error',
  {
    patterns: [
      {
        regex: allowed ? `(^|/)(?!${allowed}/)[^./][^/]*/[^/]+\\.model$` : '\\.model$',
        allowTypeImports: true,
        message: allowed
          ? `Another module's model: read its data through that module's service (module boundaries, eslint.config.mjs).`
          : `A module's model: read its data through that module's service (module boundaries, eslint.config.mjs).`,
      },
    ],
  },
];
const boundaries = [
  {
    files: production,
    ignores: boundaryExceptions,
    rules: {
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': modelImports(),
    },
  },
  ...modules.map((m) => ({
    files: [`src/modules/${m}/**/*.ts`],
    ignores: boundaryExceptions,
    rules: { '@typescript-eslint/no-restricted-imports': modelImports(m) },
  })),
];

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'data/', 'bin/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked.map((c) => ({ ...c, files: production })),
  {
    files: production,
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      // A switch over a union names every member, even beside a default: a new role or state
      // then forces a decision at each access check instead of falling into `default`.
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      // Issue 12's sizes, kept: a file says one thing, a function does one step.
      'max-lines': ['error', { max: 400, skipBlankLines: false, skipComments: false }],
      'max-lines-per-function': ['error', { max: 70, skipBlankLines: false, skipComments: false }],
    },
  },
  ...boundaries,
  {
    files: production,
    ignores: ['src/cli/**'],
    rules: { 'no-console': 'error' },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },
  {
    files: ['tools/**/*.mjs', 'web/*.mjs', '**/*.cjs'],
    languageOptions: {
      globals: {
        process: 'readonly',
        Buffer: 'readonly',
        console: 'readonly',
        require: 'readonly',
        module: 'writable',
        __dirname: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
