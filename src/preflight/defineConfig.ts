import type { PolicyInput } from './policy.ts'

/**
 * Declares the policy in `longhaul.config.ts`: `export default defineConfig({ maxLostWorkSeconds: 120 })`. Apart
 * from policy.ts, which checks it, so that a config or job importing `longhaul` loads none of that.
 */
export function defineConfig(config: PolicyInput): PolicyInput {
  return config
}
