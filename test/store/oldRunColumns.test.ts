import { describe, expect, it } from 'vitest'
import { oldRunColumns } from '../../src/journal/oldRunColumns.ts'

const identity = (value: unknown): string => JSON.stringify(value)
const map = identity({ job: 'squares', sources: {}, output: { kind: 'jsonl' } })
const loop = identity({ job: 'train', sources: {}, output: { kind: 'loop' } })

describe('a run recorded before its kind, shards and digest were columns (schema version 1)', () => {
  it('run-kind: a map job, a loop and a supervised program are told apart by the identity the journal recorded', () => {
    expect(oldRunColumns(map, []).kind).toBe('map')
    expect(oldRunColumns(loop, []).kind).toBe('loop')
    expect(oldRunColumns(identity({ kind: 'exec', job: 'train', command: 'python3', args: [] }), []).kind).toBe('exec')
  })

  it('run-kind: an identity without an output (an older journal) is a map job', () => {
    expect(oldRunColumns(identity({ job: 'old', sources: {}, output: null }), []).kind).toBe('map')
    expect(oldRunColumns('not json', []).kind).toBe('map')
  })

  it("run-state-columns: where the shards go is the first `shards` event's bucket; none is the shared folder", () => {
    const shards = (at: unknown) => ({ type: 'shards', detail: { at } })
    expect(oldRunColumns(map, [shards('s3://a/p'), shards('s3://b/p')]).shardsAt).toBe('s3://a/p')
    expect(oldRunColumns(map, [{ type: 'started', detail: {} }]).shardsAt).toBeNull()
    expect(oldRunColumns(map, [shards(7)]).shardsAt).toBeNull()
  })

  it("run-state-columns: a loop's digest is its last `complete` event's; a map run's digest is never taken from the log", () => {
    const complete = (digest: unknown) => ({ type: 'complete', detail: { committed: 3, digest } })
    expect(oldRunColumns(loop, [complete('a'.repeat(64)), complete('b'.repeat(64))]).finalDigest).toBe('b'.repeat(64))
    expect(oldRunColumns(loop, [complete(null)]).finalDigest).toBeNull()
    expect(oldRunColumns(loop, []).finalDigest).toBeNull()
    expect(oldRunColumns(map, [complete('a'.repeat(64))]).finalDigest).toBeNull()
  })
})
