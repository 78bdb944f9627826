// longhaul as its users import it: the compiled package (dist/, built by `npm run build`), with no TypeScript loader
// registered in the process: a job's TypeScript is compiled by longhaul itself, as in the CLI.
export const { runMapJob, verifyRun } = await import('longhaul')
