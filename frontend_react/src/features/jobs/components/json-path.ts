/**
 * JSON paths as the API names where in `data` an error is (`$`, `$.text`,
 * `$.items[2]`, `$['odd key']`), turned into the list of keys they point at.
 */
export type PathKey = string | number

/** The keys of PATH, or null when it is not a JSON path this app can read. */
export function parseJsonPath(path: string): PathKey[] | null {
  if (!path.startsWith('$')) return null
  const keys: PathKey[] = []
  let rest = path.slice(1)
  while (rest !== '') {
    const dotted = /^\.([^.[\]]+)/.exec(rest)
    const index = /^\[(\d+)\]/.exec(rest)
    const quoted = /^\[(['"])((?:\\.|(?!\1).)*)\1\]/.exec(rest)
    if (dotted) {
      keys.push(dotted[1] ?? '')
      rest = rest.slice(dotted[0].length)
    } else if (index) {
      keys.push(Number(index[1]))
      rest = rest.slice(index[0].length)
    } else if (quoted) {
      keys.push((quoted[2] ?? '').replace(/\\(.)/g, '$1'))
      rest = rest.slice(quoted[0].length)
    } else {
      return null
    }
  }
  return keys
}
