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

const route = /^\/runs\/([^/]+)\/?$/.exec(location.pathname)
if (route) {
  const [{ runPage }] = await Promise.all([
    import('./run.js'),
    // Without it the chart says it cannot be drawn; the rest of the page is shown.
    script('/static/uPlot.iife.min.js').catch(() => undefined),
  ])
  runPage(decodeURIComponent(route[1]))
} else {
  const { listPage } = await import('./list.js')
  listPage()
}
