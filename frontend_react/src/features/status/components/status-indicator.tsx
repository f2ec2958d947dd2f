import { Link } from 'react-router-dom'
import { usePlatformStatus } from '../api/get-platform-status'
import { summarizeStatus } from './summarize-status'

/** The small always-visible health light in the header; links to /status. */
export function StatusIndicator() {
  const status = usePlatformStatus()
  // The last fetch failing counts even if older data is still cached.
  const failed = status.isError && status.errorUpdatedAt >= status.dataUpdatedAt
  const summary = summarizeStatus(status.data, failed)
  const tone = status.isPending && !failed ? 'pending' : summary.ok ? 'ok' : 'bad'
  return (
    <Link
      to="/status"
      className={`status-indicator status-${tone}`}
      aria-label={`Platform status: ${summary.text}`}
      title="Platform status"
    >
      <span className="status-dot" aria-hidden="true" />
      <span className="status-text" role="status">
        {summary.text}
      </span>
    </Link>
  )
}
