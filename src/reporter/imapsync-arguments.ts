// What the reporter needs from an imapsync command line. imapsync parses its options with Perl's
// Getopt::Long: "--name value", "--name=value", and a single dash work alike.

export interface ImapsyncArguments {
  host1: string | null
  user1: string | null
  authuser1: string | null
  /** --proxyauth1: user1 is reached through authuser1's proxy login. */
  proxyauth1: boolean
  /** Values that must never leave this process: passwords and tokens given on the command line. */
  secrets: string[]
}

const VALUE_OPTIONS = new Set(['host1', 'user1', 'authuser1'])
const SECRET_OPTIONS = new Set(['password1', 'password2', 'oauthaccesstoken1', 'oauthaccesstoken2'])
// Options of imapsync that take a value: their value must not be read as an option.
const OTHER_VALUE_OPTIONS = new Set([
  'host2', 'user2', 'authuser2', 'port1', 'port2', 'passfile1', 'passfile2', 'authmech1', 'authmech2',
  'folder', 'exclude', 'include', 'regextrans2', 'logfile', 'logdir', 'tmpdir', 'pidfile', 'timeout1', 'timeout2',
  'sep1', 'sep2', 'prefix1', 'prefix2', 'maxsize', 'minsize', 'maxage', 'minage', 'search', 'search1', 'search2'
])

export function readImapsyncArguments (args: readonly string[]): ImapsyncArguments {
  const found: ImapsyncArguments = { host1: null, user1: null, authuser1: null, proxyauth1: false, secrets: [] }
  for (let index = 0; index < args.length; index++) {
    const match = /^--?([A-Za-z0-9_]+)(?:=(.*))?$/s.exec(args[index])
    if (match === null) continue
    const name = match[1].toLowerCase()
    if (name === 'proxyauth1') { found.proxyauth1 = true; continue }
    const takesValue = VALUE_OPTIONS.has(name) || SECRET_OPTIONS.has(name) || OTHER_VALUE_OPTIONS.has(name)
    if (!takesValue) continue
    let value = match[2]
    if (value === undefined && index + 1 < args.length) value = args[++index]
    if (value === undefined) continue
    if (SECRET_OPTIONS.has(name)) {
      if (value !== '') found.secrets.push(value)
    } else if (name === 'host1' || name === 'user1' || name === 'authuser1') {
      found[name] = value
    }
  }
  return found
}

/** Replaces every secret in `text` by MASKED (as imapsync itself masks them in its log). */
export function maskSecrets (text: string, secrets: readonly string[]): string {
  let masked = text
  // Very short values would mangle the text and are not worth hiding from it.
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    if (secret.length >= 3) masked = masked.split(secret).join('MASKED')
  }
  return masked
}
