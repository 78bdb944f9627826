import type { Worker } from 'node:worker_threads'
import type { LoopMessage } from './protocol.ts'

/** What the coordinating thread hears from the loop's thread: its messages, or its end. */
export type ThreadNews =
  | LoopMessage
  /** The thread threw outside the loop (an uncaught error in the job's timers, say). */
  | { readonly type: 'crashed'; readonly error: Error }
  /** The thread ended; after a last message this is expected, before one it is not. */
  | { readonly type: 'exited'; readonly code: number }

/** The loop thread's messages in order, one `await next()` at a time, so the coordinator handles each in turn. */
export class ThreadInbox {
  private readonly queue: ThreadNews[] = []
  private waiting: ((news: ThreadNews) => void) | undefined

  constructor(thread: Worker) {
    thread.on('message', (message: LoopMessage) => this.push(message))
    thread.on('error', (error: Error) => this.push({ type: 'crashed', error }))
    thread.on('exit', (code: number) => this.push({ type: 'exited', code }))
  }

  next(): Promise<ThreadNews> {
    const first = this.queue.shift()
    if (first) return Promise.resolve(first)
    return new Promise((resolve) => (this.waiting = resolve))
  }

  private push(news: ThreadNews): void {
    const waiting = this.waiting
    this.waiting = undefined
    if (waiting) waiting(news)
    else this.queue.push(news)
  }
}
