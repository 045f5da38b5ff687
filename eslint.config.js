// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';
import globals from 'globals';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.data/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
    },
  },
  {
    // Workflows are replayed in a sandbox: deterministic code only. No Node built-ins,
    // no SDK packages that touch the OS, and activities only as types.
    files: ['src/workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.map((name) => ({ name, message: 'Workflows must not use Node built-ins; do it in an activity.' })),
            ...['@temporalio/activity', '@temporalio/worker', '@temporalio/client', '@temporalio/testing', 'pg', 'execa', 'prom-client', 'tar'].map(
              (name) => ({ name, message: 'Workflows cannot bundle this package; call an activity instead.' }),
            ),
          ],
          patterns: [
            {
              group: ['**/activities', '**/activities/**'],
              allowTypeImports: true,
              message: 'Workflows import activities as types only: `import type`.',
            },
            {
              group: ['**/config/**', '**/services/**', '**/dev/**', '**/metrics/**', '**/system/**', '**/postgres/**', '**/temporal/**', '**/client/**', '**/archive/**', '**/report/**'],
              allowTypeImports: true,
              message: 'Workflows may import only src/common and other workflow files (types excepted).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { ...tseslint.configs.disableTypeChecked.languageOptions, globals: globals.node },
  },
);
