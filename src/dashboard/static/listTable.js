// The list's table in the page: one compact row per run, made from its description (runRow.js, the one the
// server writes its first rows from) and brought up to date in place when its run changes, only what differs.

import { setText } from './dom.js'
import { rowOf, searchTextOf, updatedText } from './runRow.js'

/** The elements of a description (runRow.js). Text stays text: every value goes in as a text node or an attribute. */
export function build(described) {
  if (typeof described === 'string') return document.createTextNode(described)
  const node = document.createElement(described.tag)
  for (const [name, value] of Object.entries(described.attrs)) node.setAttribute(name, value)
  node.append(...described.children.map(build))
  return node
}

/**
 * Brings `node` (made from a description, by build or by the server's HTML) to `described`, touching only what
 * differs, so that a live list does not churn its layout; a node of another kind is replaced. Attributes named in
 * `keep` are left as they are on `node` itself (a row's `hidden`, which the filter sets). Returns the node now there.
 */
export function patch(node, described, keep = []) {
  if (typeof described === 'string') {
    if (node.nodeType === Node.TEXT_NODE) {
      if (node.data !== described) node.data = described
      return node
    }
  } else if (node.nodeType === Node.ELEMENT_NODE && node.localName === described.tag) {
    for (const name of node.getAttributeNames())
      if (!Object.hasOwn(described.attrs, name) && !keep.includes(name)) node.removeAttribute(name)
    for (const [name, value] of Object.entries(described.attrs))
      if (node.getAttribute(name) !== value) node.setAttribute(name, value)
    const children = node.childNodes
    if (children.length !== described.children.length) node.replaceChildren(...described.children.map(build))
    else for (let i = 0; i < children.length; i++) patch(children[i], described.children[i])
    return node
  }
  const made = build(described)
  node.replaceWith(made)
  return made
}

/** Left to the list on a row: whether the filter hides it. */
const LIST_OWNS = ['hidden']

/** A run's row. Its elements are made when it is first shown: a long list's rows further down cost nothing before. */
export class RunRow {
  constructor(run) {
    this.update(run)
  }

  /** The row's element, made on first use. */
  get root() {
    if (!this.tr) this.take(build(rowOf(this.run)))
    return this.tr
  }

  /** Takes over a row already in the page for this run (the server's, or one of an earlier reading of the list). */
  adopt(tr) {
    this.take(patch(tr, rowOf(this.run), LIST_OWNS))
  }

  take(tr) {
    this.tr = tr
    this.updated = tr.querySelector('td[data-col="updated"]')
  }

  /** Takes the row out of the page, if it is in it. */
  detach() {
    this.tr?.remove()
  }

  update(run) {
    this.run = run
    this.search = searchTextOf(run)
    if (this.tr) this.adopt(this.tr)
  }

  /** The age, every second. */
  tick() {
    if (this.tr) setText(this.updated, updatedText(this.run))
  }
}
