// A small DOM kit. Every value from the API is written with textContent or setAttribute, never parsed as HTML.

import { runHref } from './runWords.js'

// A run page's address is text the server writes too (runWords.js).
export { runHref }

const connection = document.getElementById('connection')

/** An element with attributes and children; strings become text nodes, nulls are skipped. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag)
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue
    if (key === 'class') node.className = value
    else if (key === 'style')
      node.style.cssText = value // through the CSSOM, which a strict style-src allows
    else node.setAttribute(key, value === true ? '' : String(value))
  }
  node.append(
    ...children
      .flat()
      .filter((c) => c !== null && c !== undefined && c !== false)
      .map((c) => (c instanceof Node ? c : String(c))),
  )
  return node
}
/** Sets text only when it changed, so a live page does not churn its layout every second. */
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text
}
export function setAttr(node, name, value) {
  if (node.getAttribute(name) !== value) node.setAttribute(name, value)
}

export async function getJson(url) {
  const response = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
  if (!response.ok) throw new Error(`${url} answered HTTP ${response.status}`)
  return response.json()
}

/** The connection note in the page header. */
export function showConnection(status, text) {
  setAttr(connection, 'data-status', status)
  setText(connection, text)
}
