import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { SqliteStore } from '../../src/journal/sqlite/sqliteStore.ts'
import { storeModel } from './model.ts'

const dir = mkdtempSync(join(tmpdir(), 'longhaul-model-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let n = 0

storeModel('sqlite', async () => SqliteStore.open(join(dir, `journal-${n++}.sqlite`)))
