import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import type Database from 'better-sqlite3'

// SQLite checkpoints the WAL (copies it back into the database file, then fsyncs that file)
// inside the commit that makes the WAL long enough: the commit, and so the event loop, waited
// for it. At wal_autocheckpoint = 10000 pages that was 25-35 ms every few thousand events, the
// longest pauses of a stall sweep (measured in process: chunk max 39 ms with it, 24 without).
// The checkpointer runs them on a thread of its own instead, with a connection of its own.

/** How often the checkpointer copies the WAL back. */
export const CHECKPOINT_INTERVAL_MS = 1000

/**
 * While the checkpointer runs, the service's own connection checkpoints only if the WAL grows
 * past this many pages (400 MB): a backstop should the thread fall behind.
 */
export const BACKSTOP_PAGES = 100_000

/** The service's own setting, restored if the thread stops unasked (see openSqlite). */
export const AUTOCHECKPOINT_PAGES = 10_000

export interface CheckpointResult {
  busy: number
  /** Pages in the WAL. */
  log: number
  /** Pages of it now in the database file. */
  checkpointed: number
}

export class WalCheckpointer {
  private readonly exited: Promise<void>

  private constructor (private readonly worker: Worker, client: Database.Database, onError: (error: unknown) => void) {
    this.exited = new Promise((resolve) => {
      worker.once('exit', () => {
        // Stopped, or gone unasked: the service's connection checkpoints again as it did before.
        if (client.open) client.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`)
        resolve()
      })
    })
    worker.on('error', onError)
  }

  /** Starts checkpointing the file `client` has open (a file, not :memory:) on a thread of its own. */
  static start (client: Database.Database, options: { intervalMs?: number, onError: (error: unknown) => void, onCheckpoint?: (result: CheckpointResult) => void }): WalCheckpointer {
    // The worker's own file: .ts under the tests' loader, .js once built.
    const script = new URL(`./checkpoint-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url)
    const worker = new Worker(script, { workerData: { path: client.name, intervalMs: options.intervalMs ?? CHECKPOINT_INTERVAL_MS } })
    // The thread must not keep the process alive on its own.
    worker.unref()
    if (options.onCheckpoint !== undefined) worker.on('message', options.onCheckpoint)
    client.pragma(`wal_autocheckpoint = ${BACKSTOP_PAGES}`)
    return new WalCheckpointer(worker, client, options.onError)
  }

  async stop (): Promise<void> {
    // Held by the thread until it has closed its connection.
    this.worker.ref()
    this.worker.postMessage('stop')
    await this.exited
  }
}
