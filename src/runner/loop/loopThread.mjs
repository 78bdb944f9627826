// The loop's thread starts here. Jobs are TypeScript, so the tsx loader is
// registered in this thread first (as bin/longhaul.mjs does for the main one);
// then the loop itself runs (loopWorker.ts).
import { register } from 'tsx/esm/api'

register()
await import('./loopWorker.ts')
