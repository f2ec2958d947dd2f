import { useId, useState } from 'react'
import { Link } from 'react-router-dom'
import { errorMessage } from '@/lib/api-client'
import { formatDateTime } from '@/lib/format'
import { JOB_STATUSES, type Job, type JobStatus } from '@/types/api'
import { isCancellable, isUnfinished, useJobs } from '../api/get-jobs'
import { CancelButton } from './cancel-button'
import { JobProgressBar } from './job-progress'
import { JobResultCell } from './job-result'
import { JobStatusBadge } from './job-status-badge'
import { pageRange } from './page-range'
import { RetryButton } from './retry-button'

export const PAGE_SIZE = 20

function Outcome({ job }: { job: Job }) {
  if (job.status === 'failed') {
    return <span className="outcome outcome-error">{job.error ?? 'Failed'}</span>
  }
  if (job.status === 'succeeded') return <JobResultCell result={job.result} />
  if (job.status === 'cancelled') return <span className="muted">{job.error ?? 'Cancelled'}</span>
  if (job.status === 'running') {
    return <JobProgressBar progress={job.progress} label={`Progress of ${job.job_name}`} />
  }
  return <span className="muted">Waiting…</span>
}

export function JobsList() {
  const id = useId()
  const [status, setStatus] = useState<JobStatus | null>(null)
  const [offset, setOffset] = useState(0)
  const jobs = useJobs({ status, limit: PAGE_SIZE, offset })

  const list = jobs.data
  const rows = list?.jobs ?? []
  const total = list?.total ?? 0
  const refreshing = rows.some(isUnfinished)

  return (
    <section className="card" aria-labelledby={`${id}-title`}>
      <div className="card-header">
        <h2 id={`${id}-title`}>Your jobs</h2>
        <div className="toolbar">
          {refreshing && (
            <span className="muted small live" aria-live="polite">
              Updating live
            </span>
          )}
          <label htmlFor={`${id}-status`} className="small">
            Status
          </label>
          <select
            id={`${id}-status`}
            value={status ?? ''}
            onChange={(event) => {
              setStatus(event.target.value === '' ? null : (event.target.value as JobStatus))
              setOffset(0)
            }}
          >
            <option value="">All</option>
            {JOB_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s[0]?.toUpperCase() + s.slice(1)}
              </option>
            ))}
          </select>
        </div>
      </div>

      {jobs.isPending && <p className="muted">Loading your jobs…</p>}
      {jobs.isError && (
        <p className="notice notice-error" role="alert">
          Could not load your jobs: {errorMessage(jobs.error)}
        </p>
      )}
      {jobs.isSuccess && rows.length === 0 && (
        <p className="empty">
          {status === null && offset === 0 ? 'No jobs yet — submit one above' : `No ${status ?? ''} jobs here`}
        </p>
      )}

      {rows.length > 0 && (
        <div className="table-wrap">
          <table className="jobs-table">
            <thead>
              <tr>
                <th scope="col">Job</th>
                <th scope="col">Type</th>
                <th scope="col">Status</th>
                <th scope="col">Created</th>
                <th scope="col">Finished</th>
                <th scope="col">Result</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((job) => (
                <tr key={job.job_id} data-job-id={job.job_id}>
                  <td data-label="Job">
                    <Link to={`/jobs/${encodeURIComponent(job.job_id)}`} className="job-name">
                      {job.job_name}
                    </Link>
                  </td>
                  <td data-label="Type">
                    <code className="type-tag">{job.job_type}</code>
                  </td>
                  <td data-label="Status">
                    <JobStatusBadge status={job.status} />
                  </td>
                  <td data-label="Created">{formatDateTime(job.created_at)}</td>
                  <td data-label="Finished">{formatDateTime(job.completed_at)}</td>
                  <td data-label="Result" className="outcome-cell">
                    <Outcome job={job} />
                  </td>
                  <td data-label="" className="actions-cell">
                    {job.status === 'failed' && <RetryButton jobId={job.job_id} jobName={job.job_name} />}
                    {isCancellable(job) && <CancelButton job={job} />}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      {list && total > 0 && (
        <nav className="pager" aria-label="Jobs pages">
          <button
            type="button"
            className="button button-small"
            onClick={() => setOffset(Math.max(0, offset - PAGE_SIZE))}
            disabled={offset === 0}
          >
            Previous
          </button>
          <span className="pager-range">{pageRange(list.offset, rows.length, total)}</span>
          <button
            type="button"
            className="button button-small"
            onClick={() => setOffset(offset + PAGE_SIZE)}
            disabled={offset + rows.length >= total}
          >
            Next
          </button>
        </nav>
      )}
    </section>
  )
}
