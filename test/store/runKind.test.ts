import { describe, expect, it } from 'vitest'
import { runKindOf } from '../../src/store/runKind.ts'

const recorded = (identity: unknown): { identity: string } => ({ identity: JSON.stringify(identity) })

describe('the kind of run a journal holds', () => {
  it('run-kind: a map job, a loop and a supervised program are told apart by the identity the journal recorded', () => {
    expect(runKindOf(recorded({ job: 'squares', sources: {}, output: { kind: 'jsonl' } }))).toBe('map')
    expect(runKindOf(recorded({ job: 'train', sources: {}, output: { kind: 'loop' } }))).toBe('loop')
    expect(runKindOf(recorded({ kind: 'exec', job: 'train', command: 'python3', args: [] }))).toBe('exec')
  })

  it('run-kind: an identity without an output (an older journal) is a map job', () => {
    expect(runKindOf(recorded({ job: 'old', sources: {}, output: null }))).toBe('map')
    expect(runKindOf({ identity: 'not json' })).toBe('map')
  })
})
