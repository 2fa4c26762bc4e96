import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules', 'dist', '.data', '.tools', 'coverage', 'jest.config.js', 'jest.synapse.config.js', 'jest.fuzz.config.js', 'jest.chaos.config.js', 'eslint.config.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      eqeqeq: ['error', 'always'],
      'no-console': 'error',
    },
  },
  {
    // Workflow code is replayed: only the workflow API, type-only activity imports and src/domain.
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '^node:', message: 'Workflow code must not use Node APIs.' },
            { regex: '^(fs|path|crypto|os|http|https|net|child_process|pg|slonik|koa|pino|jose)$', message: 'Workflow code must be deterministic: no I/O libraries.' },
            { regex: '^\\.\\./src/(?!domain/)', message: 'Workflows may import only src/domain from src/.' },
            { regex: '^@temporalio/(client|worker|activity)$', message: 'Workflows use @temporalio/workflow only.' },
            { regex: '^\\.\\./activities', message: 'Import activities type-only (import type).', allowTypeImports: true },
          ],
        },
      ],
    },
  },
  {
    // Plain ES modules (the MAS stand-in runs outside TypeScript): linted without type information.
    files: ['**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { parserOptions: { projectService: false, project: null }, globals: { process: 'readonly' } },
  },
  {
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off', 'no-console': 'off' },
  },
  {
    // Routes parse, pick a gate and call a service: queries are the services' business (types may be named).
    files: ['src/http/routes/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [{ regex: '(^|/)db/', message: 'Routes call services in src/<area>, not src/db.', allowTypeImports: true }] },
      ],
    },
  },
  {
    // The HTTP layer sits on top: activities and domain code never reach into it.
    files: ['src/**/*.ts', 'activities/**/*.ts'],
    ignores: ['src/http/**', 'src/api.ts', 'src/cli/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: '(^|/)http/', message: 'Only src/http and the api entry point use the HTTP layer.' }] }],
    },
  },
);
