import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

// The same code runs from src/ (tests) and from dist/src/ (npm start): find the package root.
export function packageRoot (): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir)
    if (parent === dir) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url))
    dir = parent
  }
  return dir
}

export function migrationsFolder (dialect: 'sqlite' | 'postgres'): string {
  return join(packageRoot(), 'migrations', dialect)
}

/** Number of migrations the journal of a dialect lists. */
export function journalLength (dialect: 'sqlite' | 'postgres'): number {
  const journal = JSON.parse(readFileSync(join(migrationsFolder(dialect), 'meta', '_journal.json'), 'utf8')) as { entries: unknown[] }
  return journal.entries.length
}
