import type { Change } from '../domain/changes.js'
import type { ChangeFeed } from '../plugins/change-feed.js'

// Fan-out of the change feed to open event streams. One group per (tenant, batch) reads the
// feed once per wake-up and hands each change to every stream of the batch, so 5,000 streams
// of a batch cost one feed query per wake-up, not 5,000. The feed is the truth; the wake-up
// (app.changes.onAppended: in-process, or LISTEN/NOTIFY from other instances) only says when
// to look. Each group's work runs one step at a time, so a stream joining while changes
// arrive misses none and gets none twice.

/** How many changes one feed read takes; a backlog is read in several. */
export const STREAM_PAGE = 500

export interface StreamSubscriber {
  /** Seq of the last change this stream was sent (its resume point). */
  after: number
  /** Sends one change; false when the stream is gone. */
  send: (change: Change) => boolean
  /** While the reader is behind (the socket's buffer is full), resolves once it has caught up. */
  drained: () => Promise<void> | null
  /** Ends the stream (the service is shutting down). */
  end: () => void
}

interface Group {
  tenantId: string
  batchId: string
  /** Seq of the last change the group has read: every member has been sent everything up to it. */
  cursor: number
  members: Set<StreamSubscriber>
  /** The group's serial queue of work. */
  queue: Promise<void>
  /** A read is queued and has not started yet: further wake-ups join it. */
  readPending: boolean
}

export class StreamHub {
  private readonly groups = new Map<string, Group>()
  private readonly unsubscribe: () => void

  constructor (private readonly feed: ChangeFeed, private readonly onError: (error: unknown) => void) {
    this.unsubscribe = feed.onAppended((tenantId) => { this.wake(tenantId) })
  }

  /** Open streams, all batches together. */
  get size (): number {
    let total = 0
    for (const group of this.groups.values()) total += group.members.size
    return total
  }

  /**
   * Adds a stream of one batch: it is first sent every change after `subscriber.after`, then
   * every new one, each once. Resolves once it is a member; returns the function that removes it.
   */
  async join (tenantId: string, batchId: string, subscriber: StreamSubscriber): Promise<() => void> {
    const key = JSON.stringify([tenantId, batchId])
    let group = this.groups.get(key)
    if (group === undefined) {
      const cursor = await this.feed.latestSeq(tenantId)
      // Another stream may have made the group while the seq was read.
      group = this.groups.get(key) ?? { tenantId, batchId, cursor, members: new Set(), queue: Promise.resolve(), readPending: false }
      this.groups.set(key, group)
    }
    const target = group
    await this.enqueue(target, async () => {
      // Catch up on its own up to where the group stands, then take the group's changes.
      while (subscriber.after < target.cursor) {
        const changes = await this.feed.list(tenantId, { after: subscriber.after, batchId, limit: STREAM_PAGE })
        const upTo = changes.filter((change) => change.seq <= target.cursor)
        for (const change of upTo) {
          if (!subscriber.send(change)) return
          subscriber.after = change.seq
          // A backlog is sent at the reader's pace, not all into memory at once.
          const drained = subscriber.drained()
          if (drained !== null) await drained
        }
        if (upTo.length < STREAM_PAGE) break
      }
      subscriber.after = Math.max(subscriber.after, target.cursor)
      target.members.add(subscriber)
    })
    // A change may have been appended while the stream caught up: look once more.
    this.read(target)
    return () => {
      target.members.delete(subscriber)
      if (target.members.size === 0 && !target.readPending) this.groups.delete(key)
    }
  }

  /** Stops listening and ends every open stream. */
  close (): void {
    this.unsubscribe()
    for (const group of this.groups.values()) {
      for (const member of group.members) member.end()
    }
    this.groups.clear()
  }

  private wake (tenantId: string): void {
    for (const group of this.groups.values()) {
      if (group.tenantId === tenantId) this.read(group)
    }
  }

  private read (group: Group): void {
    if (group.readPending) return
    group.readPending = true
    this.enqueue(group, async () => {
      group.readPending = false
      for (;;) {
        const changes = await this.feed.list(group.tenantId, { after: group.cursor, batchId: group.batchId, limit: STREAM_PAGE })
        for (const change of changes) {
          for (const member of group.members) {
            if (member.after >= change.seq) continue
            if (member.send(change)) member.after = change.seq
            else group.members.delete(member)
          }
          group.cursor = change.seq
        }
        if (changes.length < STREAM_PAGE) return
      }
    })
  }

  private async enqueue (group: Group, work: () => Promise<void>): Promise<void> {
    const next = group.queue.then(work).catch((error: unknown) => { this.onError(error) })
    group.queue = next
    await next
  }
}
