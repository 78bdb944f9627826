/**
 * What the support modules do once each test file's tests and hooks are done: kill the processes a file left running,
 * remove the folders it made outside its tests, close the Chromium it launched. Registered here once, when a support
 * module is first loaded, and run by test/support/perFile.ts (a setup file: vitest runs it for every test file, also
 * where files share a worker and its loaded modules), last-registered first.
 */
const ends: (() => unknown)[] = []

/** Runs `end` after every test file, from now on. */
export function atEndOfEachFile(end: () => unknown): void {
  ends.push(end)
}

/** Runs what was registered, last-registered first. */
export async function endOfFile(): Promise<void> {
  for (const end of ends.toReversed()) await end()
}
