import type { JobStatus } from '@/types/api'

const LABELS: Record<JobStatus, string> = {
  queued: 'Queued',
  running: 'Running',
  succeeded: 'Succeeded',
  failed: 'Failed',
  cancelled: 'Cancelled',
}

export function JobStatusBadge({ status }: { status: JobStatus }) {
  const label = LABELS[status] ?? status
  return (
    <span className={`badge badge-${status}`} data-status={status}>
      {(status === 'queued' || status === 'running') && <span className="badge-pulse" aria-hidden="true" />}
      {label}
    </span>
  )
}
