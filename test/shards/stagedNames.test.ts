import { expect, it } from 'vitest'
import { shardFileName, stagedByFinalName, stagedFileName } from '../../src/shards/shardNames.ts'

// Recovery (a bucket's staging area) and verify (a folder's data/ or a bucket's staging area) read a run's staged
// copies through stagedByFinalName: what it keeps is what either may finish or read in place of a recorded file.

const final = shardFileName(0, 100, 'jsonl')
const other = shardFileName(100, 200, 'jsonl')

it("staged copies are grouped by the final name they stand for, every claim's copy kept with its size", () => {
  const listing = new Map([
    [stagedFileName('run1', 3, final), 40],
    [stagedFileName('run1', 7, final), 41],
    [stagedFileName('run1', 8, other), 50],
  ])
  expect(stagedByFinalName(listing, 'run1', ['jsonl'])).toEqual(
    new Map([
      [
        final,
        [
          { staged: stagedFileName('run1', 3, final), bytes: 40 },
          { staged: stagedFileName('run1', 7, final), bytes: 41 },
        ],
      ],
      [other, [{ staged: stagedFileName('run1', 8, other), bytes: 50 }]],
    ]),
  )
})

it("another run's staged names, another format's, final names, index.json and look-alikes are no staged copy of this run", () => {
  const listing = new Map([
    [stagedFileName('run2', 3, final), 40],
    [stagedFileName('run1', 3, shardFileName(0, 100, 'npy')), 40],
    [stagedFileName('run1', 0, final), 40],
    [`${stagedFileName('run1', 3, final)}~`, 40],
    [final, 40],
    ['index.json', 10],
    [`.claim-run1-x-${final}`, 40],
  ])
  expect(stagedByFinalName(listing, 'run1', ['jsonl'])).toEqual(new Map())
})
