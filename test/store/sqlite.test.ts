import { join } from 'node:path'
import { SqliteStore } from '../../src/journal/sqlite/sqliteStore.ts'
import { tempDir } from '../support/cli.ts'
import { storeConformance } from './conformance.ts'

storeConformance('sqlite', async () => SqliteStore.open(join(tempDir('longhaul-store-'), 'journal.sqlite')))
