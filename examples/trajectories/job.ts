// Short noisy videos of a disc moving in one of four ways, labelled by the motion:
// 0 linear, 1 circular, 2 helical (a 3-D helix seen from the side), 3 parabolic.
// Written as .npy shards: video (N, frames, size, size) uint8 and label (N,) uint8.
import { defineJob, type ItemContext, npy, tensor } from 'longhaul'
import { z } from 'zod'
import { DEFAULT_NOISE, MOTIONS, makeClip } from './motion.ts'

export const params = z.object({
  /** Frames per clip. @default 16 */
  frames: z.number().int().positive().default(16),
  /** Frame width and height in pixels. @default 64 */
  size: z.number().int().min(16).default(64),
  /** Noise standard deviation as a fraction of 255. @default 0.2 */
  noise: z.number().min(0).max(1).default(DEFAULT_NOISE),
})
export type Params = z.output<typeof params>

/**
 * Item `index` is a clip of motion `index % 4`, so the classes are exactly
 * balanced whenever the total is a multiple of 4. Everything else (start,
 * speed, direction, radius, phase, noise) comes from the item's own rng.
 */
export function item(index: number, { params, rng }: ItemContext<Params>) {
  const label = index % MOTIONS.length
  const video = makeClip(MOTIONS[label]!, rng, params, params.noise)
  return { video: tensor(video, [params.frames, params.size, params.size]), label }
}

export default defineJob({
  name: 'trajectories',
  params,
  total: 2000,
  item,
  output: npy({ video: 'uint8', label: 'uint8' }),
  // Preflight runs these on every rehearsal item, read back from the .npy shards as a loader sees them.
  validate(record: { video: { shape: readonly number[] }; label: number }, index: number) {
    if (record.label !== index % MOTIONS.length) return `label ${record.label}, expected ${index % MOTIONS.length}`
    if (record.video.shape.length !== 3)
      return `video has shape [${record.video.shape.join(', ')}], expected [frames, size, size]`
    return true
  },
  datasetChecks: {
    balancedClasses(records: Iterable<{ label: number }>) {
      const counts = MOTIONS.map(() => 0)
      for (const r of records) counts[r.label]!++
      return Math.max(...counts) - Math.min(...counts) <= 1 || `class counts ${counts.join(' / ')} are not balanced`
    },
  },
})
