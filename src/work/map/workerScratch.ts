import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { processAlive } from '../../telemetry/processAlive.ts'

const PREFIX = 'longhaul-worker-'

/**
 * A fresh folder in `parent` where a worker of a run whose shards go to a bucket stages them, named after this host
 * and process. A worker killed while it had one leaves it behind: the next worker started in the same folder on this
 * host removes the folders of this host's processes that are gone (another host's, on a shared filesystem, are left
 * to that host). The worker removes its own when it ends.
 */
export function makeWorkerScratch(parent: string): string {
  removeDeadWorkersScratch(parent)
  return mkdtempSync(join(parent, `${PREFIX}${hostname()}-${process.pid}-`))
}

function removeDeadWorkersScratch(parent: string): void {
  let names: string[]
  try {
    names = readdirSync(parent)
  } catch {
    return
  }
  const ours = `${PREFIX}${hostname()}-`
  for (const name of names) {
    if (!name.startsWith(ours)) continue
    const pid = Number(/^(\d+)-[^-]+$/.exec(name.slice(ours.length))?.[1])
    if (!(pid > 0) || processAlive(pid)) continue
    try {
      rmSync(join(parent, name), { recursive: true, force: true })
    } catch {
      // Not ours to remove after all (another user's): left as it is.
    }
  }
}
