import { esc } from './publish/statusHtml.ts'
import type { RunItem } from './runs.ts'
import { type Described, firstListed } from './static/runRow.js'

/** The only elements a description may name (runRow.js): no script, style or other element whose text is not text. */
const TAGS = new Set([
  'a',
  'button',
  'caption',
  'code',
  'div',
  'h1',
  'input',
  'option',
  'p',
  'select',
  'span',
  'table',
  'tbody',
  'td',
  'th',
  'thead',
  'tr',
])
const VOID = new Set(['input'])
/** Attribute names a description may use: no event handlers. */
const ATTRIBUTE = /^(?!on)[a-z][a-z-]*$/

/**
 * An element description as HTML: every text and attribute value escaped, so that no run's field (a job name, a
 * folder, an error) ever becomes markup; a tag or attribute name outside the known ones is refused.
 */
export function htmlOf(node: Described | string): string {
  if (typeof node === 'string') return esc(node)
  if (!TAGS.has(node.tag)) throw new Error(`listHtml: <${node.tag}> is not an element the list is written with`)
  let attrs = ''
  for (const [name, value] of Object.entries(node.attrs)) {
    if (!ATTRIBUTE.test(name)) throw new Error(`listHtml: "${name}" is not an attribute the list is written with`)
    attrs += ` ${name}="${esc(value)}"`
  }
  if (VOID.has(node.tag)) return `<${node.tag}${attrs}>`
  return `<${node.tag}${attrs}>${node.children.map(htmlOf).join('')}</${node.tag}>`
}

/**
 * The list page's content as the server writes it: the frame and the first screenful of rows, as the page itself
 * would show them for this address (its filter and order), so they are painted before any script runs or any data
 * is fetched; the page's script then takes them over (list.js).
 */
export function listHtml(runs: readonly RunItem[], params: URLSearchParams): string {
  return firstListed(runs, params).map(htmlOf).join('')
}
