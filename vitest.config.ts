import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'examples/**/*.test.ts'],
    // The CLI the tests start runs the compiled dist/: rebuilt first when src/ changed.
    globalSetup: ['scripts/build.mjs'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // Crash tests spawn processes and worker threads of their own; two files at a time suits 2 cores.
    maxWorkers: 2,
    reporters: ['default'],
  },
})
