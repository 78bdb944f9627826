import { type Browser as Chromium, chromium } from 'playwright-core'
import { afterAll } from 'vitest'
import type { Browser } from '../support/browser.ts'

// One real Chromium (Debian's) for a test file that needs several browsers: each is a fresh context of it, with its
// own cookies, storage, shared workers and viewport, as a browser of its own has, for a fraction of a launch's time and
// CPU. The flags are test/support/browser.ts's.

const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

let launched: Promise<Chromium> | undefined

// Registered at the top level of the file that imports this module: closed once the file's tests and hooks are done.
afterAll(async () => {
  const chromiumOnce = launched
  launched = undefined
  await (await chromiumOnce?.catch(() => undefined))?.close()
})

/** A browser of its own for a test (a new context of the file's one Chromium); close() closes it alone. */
export async function newContext(options: { viewport?: { width: number; height: number } } = {}): Promise<Browser> {
  launched ??= chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: FLAGS })
  const context = await (await launched).newContext({ viewport: options.viewport ?? { width: 1100, height: 900 } })
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
    },
  }
}
