import { readFileSync } from 'node:fs'

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }

/** This longhaul's version, from package.json. */
export const VERSION: string = pkg.version
/** The major version: part of every job fingerprint, since a new major may write different bytes. */
export const MAJOR: number = Number(VERSION.split('.')[0])
