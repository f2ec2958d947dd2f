import type { JobResult } from '@/types/api'
import { formatResult } from './format-result'

/** The result of a succeeded job on its page. */
export function JobResultView({ result }: { result: JobResult }) {
  const json = result !== null && typeof result !== 'string'
  return (
    <pre className={`result-box${json ? ' result-json' : ''}`} data-format={json ? 'json' : 'text'}>
      {formatResult(result)}
    </pre>
  )
}

/** The result in a row of the jobs list: a string on one line, JSON in a small scrolling box. */
export function JobResultCell({ result }: { result: JobResult }) {
  if (result !== null && typeof result !== 'string') {
    return (
      <pre className="outcome outcome-json" data-format="json">
        {formatResult(result)}
      </pre>
    )
  }
  return (
    <code className="outcome" title={result ?? ''}>
      {result ?? ''}
    </code>
  )
}
