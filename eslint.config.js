// Lint rules that encode the architecture: src/enrich is a pure core (no I/O, no clock,
// no randomness), and the roles (ingest, exports, sink) never import each other (they talk only through Kafka).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const impureModules = [
  'kafkajs',
  'ws',
  '@aws-sdk/*',
  'purecloud-platform-client-v2',
  'pino',
  'prom-client',
  'node:fs',
  'node:fs/promises',
  'node:net',
  'node:http',
  'node:child_process',
];

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.infra/', '.reports/', 'coverage/', '.runtime/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly' },
    },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/**/*.ts', 'test/**/*.ts', 'infra/**/*.ts', 'dev/**/*.ts', 'bench/**/*.ts'],
    rules: { 'no-restricted-exports': ['error', { restrictDefaultExports: { direct: true } }] },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/config.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'Only src/config.ts reads the environment.' },
      ],
    },
  },
  {
    files: ['src/enrich/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: impureModules, message: 'src/enrich is the pure core: no I/O modules.' },
            {
              group: ['../ingest/*', '../sink/*', '../exports/*', '../kafka/*', '../observability/*'],
              message: 'src/enrich imports only src/enrich.',
            },
          ],
        },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'Take the time from the caller (injected clock).' },
        { object: 'Math', property: 'random', message: 'The core is deterministic.' },
        { object: 'crypto', property: 'randomUUID', message: 'The core is deterministic.' },
        { object: 'process', property: 'env', message: 'Only src/config.ts reads the environment.' },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: 'No wall clock in the core.',
        },
        { selector: "CallExpression[callee.name='randomUUID']", message: 'The core is deterministic.' },
      ],
    },
  },
  ...['ingest', 'exports', 'sink'].map((role) => ({
    files: [`src/${role}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['ingest', 'exports', 'sink']
                .filter((other) => other !== role)
                .map((other) => `../${other}/*`),
              message: 'The roles (ingest, exports, sink) talk only through Kafka.',
            },
          ],
        },
      ],
    },
  })),
);
