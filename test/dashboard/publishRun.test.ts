import { writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { fixture, runCli, tempDir } from '../support/cli.ts'

it('run publishes its progress to the webhook of the policy on every change of state, and no proof holds the webhook', async () => {
  const posts: { state: string; done: number }[] = []
  const receiver = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk: Buffer) => (body += chunk.toString()))
    req.on('end', () => {
      posts.push(JSON.parse(body) as { state: string; done: number })
      res.writeHead(204).end()
    })
  })
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  const dir = tempDir()
  const config = join(dir, 'longhaul.config.mjs')
  const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/secret-path`
  writeFileSync(
    config,
    // The smallest crash rehearsal preflight allows (one kill in 20 items): what is checked here is what it publishes.
    `export default { requireProofAbove: 1000000, crashKills: 1, crashItems: 20, publish: [{ kind: 'webhook', url: '${hook}' }] }\n`,
  )
  try {
    const ran = await runCli([
      'run',
      fixture('squares.ts'),
      '--out',
      join(dir, 'run'),
      '--total',
      '300',
      '--config',
      config,
    ])
    expect(ran.code, ran.stderr).toBe(0)
    expect(posts.map((p) => p.state)).toEqual(['running', 'complete'])
    expect(posts.at(-1)!.done).toBe(300)

    // Preflight's rehearsal runs publish nothing, and its proof does not hold the webhook.
    const proved = await runCli([
      'preflight',
      fixture('squares.ts'),
      '--target',
      '300',
      '--out',
      join(dir, 'run'),
      '--config',
      config,
      '--json',
    ])
    expect(proved.code, proved.stderr).toBe(0)
    expect(proved.stdout).not.toContain('secret-path')
    expect(posts).toHaveLength(2)
  } finally {
    receiver.close()
  }
}, 90_000)
