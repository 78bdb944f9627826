// The dashboard page: `/` lists every run under the served folder, `/runs/<id>`
// follows one run live. Plain DOM, no build step. Every value from the API is
// written with textContent or setAttribute, never parsed as HTML.

// Each page loads only its own modules: the list none of the run page's, nor its chart library.

/** A classic script (the chart library, which defines a global), loaded once. */
const script = (src) =>
  new Promise((resolve, reject) => {
    const node = document.createElement('script')
    node.src = src
    node.onload = resolve
    node.onerror = () => reject(new Error(`${src} could not be loaded`))
    document.head.append(node)
  })

/**
 * Resolves once the browser has painted the page's first content (Paint Timing's first-contentful-paint, reported
 * when that frame is on the screen); at once in a hidden tab, which paints nothing until it is shown, or a browser
 * that does not report paints; after 3 s at most.
 */
const firstPaint = () =>
  new Promise((resolve) => {
    if (document.visibilityState === 'hidden' || !PerformanceObserver.supportedEntryTypes?.includes('paint'))
      return resolve()
    new PerformanceObserver((entries, observer) => {
      if (!entries.getEntriesByName('first-contentful-paint').length) return
      observer.disconnect()
      resolve()
    }).observe({ type: 'paint', buffered: true })
    document.addEventListener('visibilitychange', resolve, { once: true })
    setTimeout(resolve, 3_000)
  })

const route = /^\/runs\/([^/]+)\/?$/.exec(location.pathname)
if (route) {
  const [{ runPage }] = await Promise.all([
    import('./run.js'),
    // Without it the chart says it cannot be drawn; the rest of the page is shown.
    script('/static/uPlot.iife.min.js').catch(() => undefined),
  ])
  runPage(decodeURIComponent(route[1]))
} else {
  // The server wrote the list's first rows into the page: nothing is fetched until they are on the screen.
  await firstPaint()
  const later = document.getElementById('after-first-paint')
  if (later) document.head.append(later.content) // the list's data and modules (pageHead.ts)
  const { listPage } = await import('./list.js')
  listPage()
}
