import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

/** Where the page's `<head>` takes the links of the page being opened, and its `<main>` what is shown first (index.html). */
const MARK = '<!-- page-head -->'
const MAIN = '<!-- page-main -->'
const TITLE = '<title>longhaul</title>'
const IMPORT = /^\s*import\s[^'"]*['"]\.\/([\w-]+\.js)['"]/gm
const STYLESHEET = /<link rel="stylesheet" href="\/static\/([\w-]+\.css)">/g

/**
 * The page (index.html) with the `<head>` links its route needs, so that the browser fetches them all at once
 * instead of each when its importer has arrived, and nothing the route does not use: the list (`/`) gets its own
 * modules and its data (/api/runs) fetched as the page is parsed; a run page gets its modules and the chart
 * library. The modules each route needs are read from the static imports of its entry module, once at start-up.
 * The list's `<main>` is given its first rows as HTML (listHtml.ts), so they are painted before any script runs, and
 * its styles are in the page itself: nothing is fetched before that first paint. A run page's says it is loading.
 */
export function pageHtmls(staticDir: string): { list: (main: string) => string; run: string } {
  const page = readFileSync(join(staticDir, 'index.html'), 'utf8')
  const imports = new Map<string, string[]>()
  for (const name of readdirSync(staticDir).filter((n) => n.endsWith('.js')))
    imports.set(
      name,
      [...readFileSync(join(staticDir, name), 'utf8').matchAll(IMPORT)].map((m) => m[1]!),
    )
  const closure = (entry: string): string[] => {
    const seen = new Set<string>()
    const visit = (name: string) => {
      if (seen.has(name) || !imports.has(name)) return
      seen.add(name)
      for (const next of imports.get(name)!) visit(next)
    }
    visit(entry)
    return [...seen]
  }
  const modules = (entry: string) =>
    ['app.js', ...closure(entry)].map((name) => `<link rel="modulepreload" href="/static/${name}">`)
  const head = (links: string[]) => page.replace(MARK, links.join('\n  '))
  // The data first: the server answers it while the modules come.
  const [beforeMain, afterMain] = head([
    '<link rel="preload" href="/api/runs" as="fetch" crossorigin>',
    ...modules('list.js'),
  ])
    .replace(TITLE, '<title>Runs — longhaul</title>')
    .replace(STYLESHEET, (_, name: string) => `<style>\n${readFileSync(join(staticDir, name), 'utf8')}</style>`)
    .split(MAIN) as [string, string]
  return {
    list: (main) => `${beforeMain}${main}${afterMain}`,
    run: head([
      ...modules('run.js'),
      '<link rel="preload" href="/static/uPlot.iife.min.js" as="script">',
      '<link rel="stylesheet" href="/static/uPlot.min.css">',
    ]).replace(MAIN, '<p class="muted">Loading…</p>'),
  }
}
