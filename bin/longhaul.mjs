#!/usr/bin/env node
// The longhaul command: the compiled JavaScript in dist/ (`npm run build`; `npm ci` and `npm pack` build it).
let main
try {
  ;({ main } = await import('../dist/cli/main.js'))
} catch (error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !String(error.message).includes('dist/cli/main.js')) throw error
  console.error('longhaul: dist/ is not built: run `npm run build` (or `npm ci`) in the longhaul folder')
  process.exit(2)
}
process.exitCode = await main(process.argv.slice(2))
