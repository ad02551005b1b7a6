import { parentPort, workerData } from 'node:worker_threads'
import Database from 'better-sqlite3'

// The WAL checkpointer's thread (see checkpointer.ts): a connection of its own to the service's
// SQLite file that copies the WAL back into the database every `intervalMs`. PASSIVE never
// waits for readers or writers, so the service's connection goes on meanwhile.

const { path, intervalMs } = workerData as { path: string, intervalMs: number }
const db = new Database(path, { fileMustExist: true })
// FULL: the database file is fsynced before the WAL it copied may be reused.
db.pragma('synchronous = FULL')
db.pragma('wal_autocheckpoint = 0')
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)')

const timer = setInterval(() => {
  const [result] = checkpoint.all() as Array<{ busy: number, log: number, checkpointed: number }>
  parentPort?.postMessage(result)
}, intervalMs)

parentPort?.on('message', (message: unknown) => {
  if (message !== 'stop') return
  clearInterval(timer)
  db.close()
  parentPort?.close()
})
