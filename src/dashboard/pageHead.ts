import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

/** Where the page's `<head>` takes the links of the page being opened, and its `<main>` what is shown first (index.html). */
const MARK = '<!-- page-head -->'
const MAIN = '<!-- page-main -->'
const TITLE = '<title>longhaul</title>'
const IMPORT = /^\s*import\s[^'"]*['"]\.\/([\w-]+\.js)['"]/gm
/** The list's links to follow once its first frame is painted (app.js). */
const AFTER_PAINT = 'after-first-paint'
const STYLESHEET = /<link rel="stylesheet" href="\/static\/([\w-]+\.css)">/g

/**
 * The page (index.html) with the `<head>` links its route needs, so that the browser fetches them all at once
 * instead of each when its importer has arrived, and nothing the route does not use. A run page gets its modules
 * and the chart library, fetched as the page is parsed; its `<main>` says it is loading. The list (`/`) is given its
 * first rows as HTML (listHtml.ts) and its styles in the page itself, so its first frame needs nothing else; its
 * own modules and its data (/api/runs) are named in a `<template>` (inert: nothing in it is fetched) whose links
 * app.js puts in the head once that frame has been painted. The modules each route needs are read from the static
 * imports of its entry module, once at start-up.
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
  const modules = (entry: string) => closure(entry).map((name) => `<link rel="modulepreload" href="/static/${name}">`)
  const head = (links: string[]) => page.replace(MARK, links.join('\n  '))
  // The list's data and modules are asked for once its first frame has been painted (app.js puts these links in
  // the head then), so that nothing competes with that frame; the data first: the server answers it while the
  // modules come.
  const [beforeMain, afterMain] = head([
    `<template id="${AFTER_PAINT}">`,
    '<link rel="preload" href="/api/runs" as="fetch" crossorigin>',
    ...modules('list.js'),
    '</template>',
  ])
    .replace(TITLE, '<title>Runs — longhaul</title>')
    .replace(STYLESHEET, (_, name: string) => `<style>\n${readFileSync(join(staticDir, name), 'utf8')}</style>`)
    .split(MAIN) as [string, string]
  return {
    list: (main) => `${beforeMain}${main}${afterMain}`,
    run: head([
      '<link rel="modulepreload" href="/static/app.js">',
      ...modules('run.js'),
      '<link rel="preload" href="/static/uPlot.iife.min.js" as="script">',
      '<link rel="stylesheet" href="/static/uPlot.min.css">',
    ]).replace(MAIN, '<p class="muted">Loading…</p>'),
  }
}
