// The loop's thread when longhaul runs from its own TypeScript sources (its tests): a TypeScript loader is
// registered in this thread first, then the loop itself runs (loopWorker.ts). The compiled package starts
// loopWorker.js directly, and registers tsx only to load a job written in TypeScript.
import { register } from 'tsx/esm/api'

register()
await import('./loopWorker.ts')
