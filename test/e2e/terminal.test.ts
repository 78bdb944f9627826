import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { BIN, fixture, ROOT, tempDir } from '../support/cli.ts'

it('on a TTY, run draws one live bar (done/total, %, rate, ETA, elapsed, last checkpoint) and ends with the summary', () => {
  const out = join(tempDir(), 'run')
  // script(1) gives the command a real pseudo-terminal.
  const command = `${process.execPath} ${BIN} run ${fixture('squares.ts')} --out ${out} --total 2000 --workers 2`
  const screen = execFileSync('script', ['-qec', command, '/dev/null'], {
    cwd: ROOT,
    env: { ...process.env, ITEM_MS: '2' },
    encoding: 'utf8',
  })
  expect(screen).toMatch(
    /█+ 100% \| 2,000\/2,000 \| [\d,.]+ items\/s \| ETA done \| elapsed \d+s \| checkpoint \d+s ago/,
  )
  // Redrawn in place, not one line per update.
  expect(screen.split('\n').filter((line) => line.includes('% | ')).length).toBeLessThanOrEqual(3)
  expect(screen).toMatch(/COMPLETE {2}squares → /)
})
