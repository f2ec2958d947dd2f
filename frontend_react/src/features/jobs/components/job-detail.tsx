import { Link } from 'react-router-dom'
import { errorMessage, isApiError } from '@/lib/api-client'
import { formatDateTime } from '@/lib/format'
import type { JobEvent, JobEventName } from '@/types/api'
import { useJob } from '../api/get-job'
import { isCancellable } from '../api/get-jobs'
import { CancelButton } from './cancel-button'
import { JobProgressBar } from './job-progress'
import { JobResultView } from './job-result'
import { JobStatusBadge } from './job-status-badge'
import { RetryButton } from './retry-button'

const EVENT_LABELS: Record<JobEventName, string> = {
  submitted: 'Submitted',
  forwarded: 'Forwarded to the worker queue',
  forwarded_again: 'Handed to the worker queue again (it had lost the job)',
  queued: 'Queued',
  running: 'Started running',
  succeeded: 'Succeeded',
  failed: 'Failed',
  retry_requested: 'Retry requested',
  reports_held_up: 'Its progress cannot reach the platform',
  attempt_failed: 'Attempt failed (retrying)',
  timeout: 'Timed out',
  cancel_requested: 'Cancel requested',
  cancelled: 'Cancelled',
}

function Timeline({ events }: { events: JobEvent[] }) {
  if (events.length === 0) return <p className="muted">No events recorded.</p>
  return (
    <ol className="timeline">
      {events.map((event, index) => (
        <li key={`${event.at}-${index}`} className={`timeline-item timeline-${event.status}`}>
          <div className="timeline-head">
            <strong>{EVENT_LABELS[event.status] ?? event.status}</strong>
            <span className="service-tag">{event.service}</span>
          </div>
          <time dateTime={event.at} className="muted small">
            {formatDateTime(event.at)}
          </time>
          {event.detail && <p className="timeline-detail">{event.detail}</p>}
        </li>
      ))}
    </ol>
  )
}

export function JobDetailView({ jobId }: { jobId: string }) {
  const job = useJob(jobId)

  if (job.isPending) return <p className="muted">Loading the job…</p>
  if (job.isError) {
    const notFound = isApiError(job.error) && job.error.status === 404
    return (
      <div className="card">
        <p className="notice notice-error" role="alert">
          {notFound ? 'There is no such job, or it is not yours.' : errorMessage(job.error)}
        </p>
        <Link to="/">Back to your jobs</Link>
      </div>
    )
  }

  const data = job.data
  return (
    <div className="detail-grid">
      <section className="card" aria-labelledby="job-title">
        <div className="card-header">
          <h1 id="job-title" className="job-title">
            {data.job_name}
          </h1>
          <JobStatusBadge status={data.status} />
        </div>
        <dl className="facts">
          <dt>Job ID</dt>
          <dd>
            <code>{data.job_id}</code>
          </dd>
          <dt>Type</dt>
          <dd>
            <code>{data.job_type}</code>
          </dd>
          <dt>Owner</dt>
          <dd>{data.owner}</dd>
          <dt>Created</dt>
          <dd>{formatDateTime(data.created_at)}</dd>
          <dt>Started</dt>
          <dd>{formatDateTime(data.started_at)}</dd>
          <dt>Finished</dt>
          <dd>{formatDateTime(data.completed_at)}</dd>
          {data.request_id && (
            <>
              <dt>Request ID</dt>
              <dd>
                <code>{data.request_id}</code>
              </dd>
            </>
          )}
        </dl>
        {data.status === 'queued' && data.waiting_reason && (
          <p className="notice notice-info" role="status">
            Waiting: {data.waiting_reason}.
          </p>
        )}
        {data.status === 'running' && (
          <>
            <h2 className="h3">Progress</h2>
            <JobProgressBar progress={data.progress} label="Progress" />
          </>
        )}
        {isCancellable(data) && (
          <div className="detail-actions">
            <CancelButton job={data} />
            {data.cancel_requested && (
              <p className="muted small">Asked to stop; it is cancelled once its handler has stopped.</p>
            )}
          </div>
        )}
        {data.status === 'succeeded' && (
          <>
            <h2 className="h3">Result</h2>
            <JobResultView result={data.result} />
          </>
        )}
        {data.status === 'cancelled' && (
          <p className="notice notice-info">{data.error ?? 'The job was cancelled.'}</p>
        )}
        {data.status === 'failed' && (
          <>
            <h2 className="h3">Error</h2>
            <p className="notice notice-error">{data.error ?? 'The job failed'}</p>
            <RetryButton jobId={data.job_id} jobName={data.job_name} />
          </>
        )}
      </section>
      <section className="card" aria-labelledby="timeline-title">
        <h2 id="timeline-title">Timeline</h2>
        <Timeline events={data.events ?? []} />
      </section>
    </div>
  )
}
