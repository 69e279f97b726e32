import { defineConfig } from 'vitest/config';

// Projects: `unit` (pure code, no servers) and `integration` (real Kafka + real S3 + the Genesys
// emulator, started by test/support/global-setup.ts). The JSON report feeds .ci/run's summary line.
export default defineConfig({
  test: {
    // The fault suite runs on its own (npm run test:fault) and reports to its own file; .ci/run adds both up.
    reporters: [
      'default',
      ['json', { outputFile: process.env['VITEST_JSON_REPORT'] ?? '.reports/vitest.json' }],
    ],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'test/property/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.int.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          setupFiles: ['test/support/no-stack-traces.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // Two cores: integration files share one broker and one S3 server, so run them one at a time.
          fileParallelism: false,
        },
      },
      {
        test: {
          // A consumer custody did not write (Python confluent-kafka) against a real Schema Registry (Apicurio),
          // started only for this project (test/interop/global-setup.ts). Run on its own: `npm run test:interop`.
          name: 'interop',
          include: ['test/interop/**/*.interop.test.ts'],
          globalSetup: ['test/support/global-setup.ts', 'test/interop/global-setup.ts'],
          setupFiles: ['test/support/no-stack-traces.ts'],
          testTimeout: 60_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          // The real CLI as separate processes against servers that start cold, fail and restart
          // (test/fault/scenario.ts). Run on its own after the other projects: `npm run test:fault`.
          name: 'fault',
          include: ['test/fault/**/*.fault.test.ts'],
          globalSetup: ['test/fault/global-setup.ts'],
          setupFiles: ['test/support/no-stack-traces.ts'],
          testTimeout: 240_000,
          hookTimeout: 240_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
