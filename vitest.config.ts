import { defineConfig } from 'vitest/config';

// Three projects: `unit` runs anywhere and in parallel; `browser` renders reports in Chromium;
// `root` holds tests that create network namespaces, load BPF programs or start clusters. Root
// tests run one file at a time because some of them (the `down --all` sweep) act on every cnilab
// object on the machine.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          // A factory of real embedded Kubernetes APIs for tests that may not import harness/ (lib/testing/kube-api.ts).
          globalSetup: ['harness/testing/kube-api-factory.ts'],
          include: ['{lib,harness,agent,scenarios,reports,bench}/**/*.test.ts'],
          exclude: ['**/*.root.test.ts', '**/*.browser.test.ts', 'node_modules/**', 'dist/**'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'root',
          globalSetup: ['harness/testing/kube-api-factory.ts'],
          include: ['{lib,harness,agent,scenarios,reports,bench,bpf}/**/*.root.test.ts'],
          exclude: ['node_modules/**', 'dist/**'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        // Rendered in a real Chromium (Debian's /usr/bin/chromium through playwright-core).
        test: {
          name: 'browser',
          include: ['{harness,agent,scenarios,reports,lib}/**/*.browser.test.ts'],
          exclude: ['node_modules/**', 'dist/**'],
          testTimeout: 60_000,
        },
      },
    ],
  },
});
