import { execFile } from 'node:child_process'
import { closeSync, constants, fstatSync, mkdtempSync, openSync, readdirSync, rmSync } from 'node:fs'
import { Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { UsageError } from '../../errors.ts'
import { processAlive } from '../../telemetry/processAlive.ts'

/**
 * The protocol's channel for one life of a program (invariant
 * exec-channel-never-misdirected): a FIFO made in a private temp folder,
 * opened at both ends, then unlinked at once, so no path to it remains and
 * no stray process can open it. The program gets the write end as fd 3; its
 * identity (`device:inode`) goes into LONGHAUL_EVENTS_ID, so a writer can
 * prove that the fd 3 it holds is this channel and not whatever file a
 * subprocess that inherited only the environment happens to have there.
 */
export interface EventsChannel {
  /** The write end, to hand to the program as fd 3; close it once the program is started. */
  readonly writeFd: number
  /** `device:inode` of the FIFO, in decimal, as Python's os.fstat and Node's fstat (bigint) show them. */
  readonly id: string
  /** The read end: ends when every holder of the write end has closed it. */
  readonly reader: Socket
  /** Closes our copy of the write end (the program holds its own). */
  closeWriteEnd(): void
  /** Closes both ends: for a channel no program was started with. */
  discard(): void
}

export async function openEventsChannel(): Promise<EventsChannel> {
  try {
    return await openFifo()
  } catch (error) {
    if (error instanceof UsageError) throw error
    throw new UsageError(
      `cannot make the progress channel for the program in ${tmpdir()}: ${(error as Error).message}; set TMPDIR to a writable folder`,
      'LONGHAUL_EXEC_FAILED',
    )
  }
}

const PREFIX = 'longhaul-events-'

async function openFifo(): Promise<EventsChannel> {
  removeStaleFolders()
  // Named after this process: a supervisor SIGKILLed while its folder existed leaves it, and the next one removes it.
  const folder = mkdtempSync(join(tmpdir(), `${PREFIX}${process.pid}-`))
  try {
    const path = join(folder, 'events')
    await promisify(execFile)('mkfifo', ['-m', '600', path]).catch((error: Error & { stderr?: string }) => {
      throw new UsageError(
        `cannot make the progress channel for the program (mkfifo ${path}): ${error.stderr?.trim() || error.message}`,
        'LONGHAUL_EXEC_FAILED',
      )
    })
    // The read end first, non-blocking (a FIFO's open waits for the other end otherwise); then the write end opens at once.
    const readFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK)
    const writeFd = openSync(path, constants.O_WRONLY)
    const stat = fstatSync(writeFd, { bigint: true })
    let open = true
    const reader = new Socket({ fd: readFd, readable: true, writable: false })
    const closeWriteEnd = (): void => {
      if (open) closeSync(writeFd)
      open = false
    }
    return {
      writeFd,
      id: `${stat.dev}:${stat.ino}`,
      reader,
      closeWriteEnd,
      discard() {
        closeWriteEnd()
        reader.destroy()
      },
    }
  } finally {
    // Both ends are open: the name is no longer needed, and nothing is left on disk.
    rmSync(folder, { recursive: true, force: true })
  }
}

/** The channel folders of supervisors that died while they had one (the folder lives for milliseconds otherwise). */
function removeStaleFolders(): void {
  let names: string[]
  try {
    names = readdirSync(tmpdir())
  } catch {
    return
  }
  for (const name of names) {
    const pid = Number(new RegExp(`^${PREFIX}(\\d+)-`).exec(name)?.[1])
    if (!(pid > 0) || processAlive(pid)) continue
    try {
      rmSync(join(tmpdir(), name), { recursive: true, force: true })
    } catch {
      // Another user's: theirs to remove.
    }
  }
}
