import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'examples/**/*.test.ts'],
    // The CLI the tests start runs the compiled dist/: rebuilt first when src/ changed. Then a private temp
    // folder for the run, which must be empty at the end: the suite leaves /tmp as it found it.
    // And `python3` is the interpreter itself, not a version manager's shim (test/support/python.ts).
    globalSetup: ['scripts/build.mjs', 'test/support/tempGuard.ts', 'test/support/python.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // Crash tests spawn processes and worker threads of their own; two files at a time suits 2 cores.
    maxWorkers: 2,
    reporters: ['default'],
  },
})
