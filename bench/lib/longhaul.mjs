// longhaul is TypeScript: tsx's loader is registered before it is imported
// (as bin/longhaul.mjs does), so plain node can run the bench scripts.
import { register } from 'tsx/esm/api'

register()
export const { runMapJob, verifyRun } = await import('longhaul')
