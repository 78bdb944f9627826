import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROOT, tempDir } from '../support/cli.ts'

// What the preflight process itself would call, built as the CLI runs it.
const probe = (dir: string): string => {
  const file = join(dir, 'probe.mjs')
  writeFileSync(
    file,
    `import { launcherMs } from ${JSON.stringify(join(ROOT, 'dist/preflight/launcher.js'))}\nconsole.log(launcherMs())\n`,
  )
  return file
}

describe('honest-eta: the launcher is part of start-up', () => {
  it("a process started through npm (as `npx longhaul preflight` is) measures npm's start-up before it; one started directly measures none", () => {
    const file = probe(tempDir())
    const direct = spawnSync(process.execPath, [file], { encoding: 'utf8' })
    expect(direct.status, direct.stderr).toBe(0)
    expect(Number(direct.stdout)).toBe(0)
    const viaNpm = spawnSync('npm', ['exec', '--offline', '-c', `node ${file}`], { cwd: ROOT, encoding: 'utf8' })
    expect(viaNpm.status, viaNpm.stderr).toBe(0)
    // npm loads itself before it starts anything: a tenth of a second at the very least.
    expect(Number(viaNpm.stdout.trim().split('\n').at(-1))).toBeGreaterThanOrEqual(100)
  })
})
