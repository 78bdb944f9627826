import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type BrowserContext, type Browser as Chromium, chromium, type Page } from 'playwright-core'
import { afterAll } from 'vitest'
import { ROOT } from './cli.ts'

// A real Chromium for the dashboard's tests: Debian's (never a download), in a profile folder of its own that
// close() removes. Screenshots are kept under test-artifacts/ as the tests' record of each state.

const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

/** Where screenshots are kept (git ignores it). */
export const ARTIFACTS = join(ROOT, 'test-artifacts')

export interface Browser {
  readonly context: BrowserContext
  /** A new tab; any error thrown on it is recorded in `pageErrors`. */
  newPage(): Promise<Page>
  readonly pageErrors: string[]
  /** Closes the browser and removes its profile. */
  close(): Promise<void>
}

export async function openBrowser(options: { viewport?: { width: number; height: number } } = {}): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'longhaul-chromium-'))
  let context: BrowserContext
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: CHROMIUM_FLAGS,
      viewport: options.viewport ?? { width: 1100, height: 900 },
    })
  } catch (error) {
    rmSync(profile, { recursive: true, force: true })
    throw error
  }
  return browserOf(context, () => rmSync(profile, { recursive: true, force: true }))
}

let launched: Promise<Chromium> | undefined

// Closes the one Chromium `newContext` launched for a file, once the file's tests and hooks are done (registered in
// each file that imports this module; nothing to close in a file that never called it).
afterAll(async () => {
  const chromiumOnce = launched
  launched = undefined
  await (await chromiumOnce?.catch(() => undefined))?.close()
})

/**
 * A browser of its own for a test, for a file that needs several: a fresh context of one Chromium per file, with its
 * own cookies, storage, shared workers and viewport, as a browser of its own has, for a fraction of a launch's time and
 * CPU. close() closes the context alone.
 */
export async function newContext(options: { viewport?: { width: number; height: number } } = {}): Promise<Browser> {
  launched ??= chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_FLAGS })
  const context = await (await launched).newContext({ viewport: options.viewport ?? { width: 1100, height: 900 } })
  return browserOf(context, () => {})
}

/** A context as a Browser: its tabs' errors recorded; close() closes it, then runs `after`. */
function browserOf(context: BrowserContext, after: () => void): Browser {
  const pageErrors: string[] = []
  return {
    context,
    pageErrors,
    async newPage() {
      const page = await context.newPage()
      page.on('pageerror', (error) => pageErrors.push(error.message))
      return page
    },
    async close() {
      await context.close().catch(() => undefined)
      after()
    },
  }
}

/** Keeps a screenshot of `page` as test-artifacts/<name>.png: the whole page, or what the window shows of a long one. */
export async function keepScreenshot(page: Page, name: string, { fullPage = true } = {}): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true })
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage })
}
