#!/usr/bin/env node
// The longhaul command. Jobs are TypeScript, so the tsx loader is registered
// before anything else is imported.
import { register } from 'tsx/esm/api'

register()
const { main } = await import('../src/cli/main.ts')
process.exitCode = await main(process.argv.slice(2))
