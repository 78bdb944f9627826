// The team's launch rules, checked by `longhaul preflight` and enforced by `longhaul run`.
// Every rule is shown with its default; see docs/preflight.md in the longhaul package.
import { defineConfig } from 'longhaul'

export default defineConfig({
  maxLostWorkSeconds: 300, // a crash loses at most 5 minutes of work
  progressMaxStaleSeconds: 30, // progress.json is never older than this while the run lives
  progressEverySeconds: 10,
  heartbeatSeconds: 10,
  stallAfterSeconds: 300,
  rehearsalFraction: 0.1, // preflight rehearses 10% of the target
  diskMargin: 1.5, // the projected output × 1.5 must fit in the free disk
  requireProofAbove: 1_000, // more items than this need a passing proof
  proofValidDays: 30,
})
