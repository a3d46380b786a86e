import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    environment: 'node',
    // Tests spawn processes and containers: forks isolate them better than worker threads.
    pool: 'forks',
    // Creating containers and building the CLI take seconds, not milliseconds.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    projects: [
      { extends: true, test: { name: 'unit', include: ['tests/**/*.test.ts'], exclude: ['tests/runtime/**', 'tests/security/**', 'tests/containerd/**', 'node_modules/**'] } },
      // The runtime suites share one validator build and one check that the runtime starts.
      { extends: true, test: { name: 'runtime', include: ['tests/runtime/**/*.test.ts', 'tests/security/**/*.test.ts'], globalSetup: ['tests/helpers/global-setup.ts'] } },
      // containerd drives the runtime through its runc shim; each file starts a private containerd.
      { extends: true, test: { name: 'containerd', include: ['tests/containerd/**/*.test.ts'], globalSetup: ['tests/containerd/global-setup.ts'] } },
    ],
  },
});
