// The file piscina starts in each worker thread. Jobs and longhaul itself are
// TypeScript, so tsx's loader is registered in the thread before anything
// else is imported (a loader given by --import does not reach imports made
// from the worker's own modules on Node 20).
import { register } from 'tsx/esm/api'

register()
const { default: makeRange } = await import('./worker.ts')
export default makeRange
