import { fc, test } from '@fast-check/vitest'
import { count } from '../../src/telemetry/progressText.ts'

test.prop([fc.oneof(fc.integer(), fc.maxSafeNat(), fc.double())])(
  'counts read the same as en-US numbers: digits grouped by threes, whatever the number',
  (n) => count(n) === n.toLocaleString('en-US'),
)
