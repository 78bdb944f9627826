import { type SpawnSyncReturns, spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { LONG, ROOT, tempDir } from '../support/cli.ts'

// npm's own settings from `npm run test:long` (npm_config_*, npm_package_*) would leak into the project's npm.
const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name)))

function sh(command: string, args: readonly string[], cwd: string, timeoutMs = 600_000): SpawnSyncReturns<string> {
  const result = spawnSync(command, args, { cwd, env: { ...env, NO_COLOR: '1' }, encoding: 'utf8', timeout: timeoutMs })
  if (result.error) throw result.error
  return result
}

const said = (result: SpawnSyncReturns<string>): string => `${result.stdout}\n${result.stderr}`

// Installing compiles better-sqlite3 from source (about two minutes): `npm run test:long` only.
describe.skipIf(!LONG)('the package, installed from its tarball', () => {
  it('installs-from-tarball: in a new CommonJS project, `npm install TARBALL zod` then `npx longhaul init`, and the commands init prints pass', () => {
    const dir = tempDir('longhaul-pack-')
    // dist/ is fresh (the tests' globalSetup built it): pack it as it is.
    const pack = sh('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], ROOT)
    expect(pack.status, said(pack)).toBe(0)
    const tarball = join(dir, (JSON.parse(pack.stdout) as { filename: string }[])[0]!.filename)

    const project = join(dir, 'project')
    mkdirSync(project)
    expect(sh('npm', ['init', '-y'], project).status).toBe(0)
    const manifest = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as { type?: string }
    expect(manifest.type ?? 'commonjs').toBe('commonjs')
    const install = sh('npm', ['install', '--no-audit', '--no-fund', tarball, 'zod'], project, 900_000)
    expect(install.status, said(install)).toBe(0)

    const init = sh('npx', ['longhaul', 'init'], project)
    expect(init.status, said(init)).toBe(0)
    // The commands printed after 'Next:', each as typed (without its comment); the preflight at 100,000 items is left out.
    const next = init.stdout
      .split('Next:\n')[1]!
      .split('\n')
      .map((line) => line.replace(/#.*$/, '').trim())
      .filter((line) => line && !line.includes(' preflight '))
    expect(next).toEqual(['node --import tsx --test job.test.ts', 'npx longhaul run job.ts --total 100'])
    for (const line of next) {
      const [command, ...args] = line.split(/\s+/)
      const result = sh(command!, args, project)
      expect(result.status, `${line}\n${said(result)}`).toBe(0)
      if (command === 'node') expect(result.stdout).toMatch(/# pass 3\n# fail 0/)
    }
  }, 1_800_000)
})
