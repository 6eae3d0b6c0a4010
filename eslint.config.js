import neostandard, { plugins } from 'neostandard'

export default [
  ...neostandard({ ts: true, ignores: ['**/dist/**', '**/node_modules/**', '.tap/**', '.bundle/**', '**/*.generated.ts', '**/.types/**'] }),
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname }
    },
    plugins: { '@typescript-eslint': plugins['typescript-eslint'].plugin },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      // Async loops watch flags that other callbacks set (stopping, closed): not a bug here.
      'no-unmodified-loop-condition': 'off',
      // `void promise` is how an intentionally unawaited promise is marked for no-floating-promises.
      'no-void': ['error', { allowAsStatement: true }],
      // An unawaited publish, append or ack is a lost event.
      '@typescript-eslint/no-floating-promises': ['error', {
        // tap queues subtests itself; awaiting `t.test(...)` at the top level is not needed.
        allowForKnownSafeCalls: [{ from: 'package', name: 'test', package: '@tapjs/test' }]
      }]
    }
  }
]
