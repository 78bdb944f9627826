import { accessSync, constants, existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { UsageError } from '../errors.ts'
import { PROOFS_DIR, type RunPaths, runPaths } from './runPaths.ts'

export { hasRun, type RunPaths, runPaths } from './runPaths.ts'

/**
 * Creates the run directory's folders and proves it writable. With `fresh`, a
 * previous run there is moved aside (never deleted) first; returns where it went.
 */
export function prepareRunDir(dir: string, fresh: boolean, now: Date): { paths: RunPaths; movedTo?: string } {
  const paths = runPaths(dir)
  let movedTo: string | undefined
  if (fresh && existsSync(paths.dir) && readdirSync(paths.dir).length > 0) {
    movedTo = `${paths.dir}.before-${now.toISOString().replace(/[:.]/g, '-')}`
    renameSync(paths.dir, movedTo)
    // Proofs are about the job, not the run: they stay for the new run.
    if (existsSync(join(movedTo, PROOFS_DIR))) {
      mkdirSync(paths.dir, { recursive: true })
      renameSync(join(movedTo, PROOFS_DIR), paths.proofs)
    }
  }
  if (
    !existsSync(paths.journal) &&
    !existsSync(paths.storeLink) &&
    existsSync(paths.data) &&
    readdirSync(paths.data).length > 0
  ) {
    throw new UsageError(
      `${paths.data} already holds files, and no longhaul run is recorded in ${dir}. Choose an empty or new --out folder: a run owns its data/ folder.`,
      'LONGHAUL_OUT_DIR_UNUSABLE',
    )
  }
  try {
    mkdirSync(paths.data, { recursive: true })
    mkdirSync(paths.internal, { recursive: true })
    accessSync(paths.dir, constants.W_OK)
    const probe = join(paths.internal, `.probe-${process.pid}`)
    writeFileSync(probe, '')
    rmSync(probe)
  } catch (error) {
    throw new UsageError(
      `cannot write to --out ${dir}: ${(error as Error).message}. Choose a folder you can write to.`,
      'LONGHAUL_OUT_DIR_UNUSABLE',
    )
  }
  return { paths, ...(movedTo && { movedTo }) }
}
