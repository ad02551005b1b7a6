#!/usr/bin/env node
// The sfr-report command: runs the reporter compiled to dist/ (npm install builds it through the
// package's prepare script; "npm run build" rebuilds it).
import { existsSync } from 'node:fs'

const entry = new URL('../dist/src/reporter/cli.js', import.meta.url)
if (!existsSync(entry)) {
  process.stderr.write('sfr-report: the reporter is not built yet: run "npm run build" in the package\n')
  process.exit(2)
}
const { main } = await import(entry.href)
await main()
