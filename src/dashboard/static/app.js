// The dashboard page: `/` lists every run under the served folder, `/runs/<id>`
// follows one run live. Plain DOM, no build step. Every value from the API is
// written with textContent or setAttribute, never parsed as HTML.

import { listPage } from './list.js'
import { runPage } from './run.js'

const route = /^\/runs\/([^/]+)\/?$/.exec(location.pathname)
if (route) runPage(decodeURIComponent(route[1]))
else listPage()
