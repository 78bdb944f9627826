// A setup file (vitest.config.ts): its hook is registered before each test file's own, so it runs after them.
import { afterAll } from 'vitest'
import { endOfFile } from './fileEnd.ts'

afterAll(endOfFile)
