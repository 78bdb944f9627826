import type { IncomingMessage } from 'node:http'

export interface Arrival {
  /** ms since the server started, on performance.now()'s clock. */
  readonly at: number
  readonly path: string
  /** The request's x-worker header (which worker made it, when the caller says). */
  readonly worker?: string
}

export interface Answer {
  readonly status: number
  readonly headers?: Record<string, string>
  readonly body?: string
}

export interface CountingServer {
  readonly url: string
  readonly arrivals: Arrival[]
  /** Now, on the arrivals' clock. */
  now(): number
  windows(ms: number): number[]
  busiestWindow(ms: number): number
  close(): Promise<void>
}

export function startCountingServer(answer?: (request: IncomingMessage, n: number) => Answer): Promise<CountingServer>
