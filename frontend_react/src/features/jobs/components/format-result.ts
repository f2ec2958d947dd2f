import type { JobResult } from '@/types/api'

/** A result for reading: a string as it is, any other JSON value pretty-printed. */
export function formatResult(result: JobResult): string {
  if (result === null) return ''
  if (typeof result === 'string') return result
  return JSON.stringify(result, null, 2)
}
