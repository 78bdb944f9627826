import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SqliteStore } from '../../src/store/sqlite/sqliteStore.ts'
import { storeConformance } from './conformance.ts'

storeConformance('sqlite', async () => SqliteStore.open(join(mkdtempSync(join(tmpdir(), 'longhaul-store-')), 'journal.sqlite')))
