import { readFileSync } from 'node:fs'

/** One line of the JSONL signal fixtures (corpus, real corpus, paraphrases). */
export interface Signal {
  engine: string
  code: string | null
  message: string
  expect: string
  alsoRight?: string[]
}

export function readSignals (name: string): Signal[] {
  return readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Signal)
}
