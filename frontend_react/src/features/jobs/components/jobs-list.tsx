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

function emptyMessage(status: JobStatus | null, page: number): string {
  if (status !== null) return `No ${status} jobs here`
  return page === 0 ? 'No jobs yet — submit one above' : 'No jobs here'
}

export function JobsList() {
  const id = useId()
  const [status, setStatus] = useState<JobStatus | null>(null)
  // Keyset paging: the cursors (`before`) of the pages gone through to reach this
  // one, the current page's last; none on page 1. Previous drops the last one.
  const [cursors, setCursors] = useState<string[]>([])
  const page = cursors.length
  const jobs = useJobs({ status, limit: PAGE_SIZE, before: cursors.at(-1) ?? null })

  // While a page loads, the rows on screen are still those of the page shown
  // before it (placeholder data): the range describes the rows on screen.
  const [shownPage, setShownPage] = useState(page)
  if (jobs.data && !jobs.isPlaceholderData && shownPage !== page) setShownPage(page)

  const list = jobs.data
  const rows = list?.jobs ?? []
  const total = list?.total ?? 0
  const refreshing = rows.some(isUnfinished)
  // The answer's `offset` is 0 with `before`: where this page starts is counted here.
  const first = (jobs.isPlaceholderData ? shownPage : page) * PAGE_SIZE
  const toFirstPage = () => setCursors([])

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
              toFirstPage()
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
          {emptyMessage(status, page)}
          {page > 0 && (
            // A deep page can empty (a reset, the jobs of a status moving on): not a dead end.
            <>
              {' '}
              <button type="button" className="button button-small" onClick={toFirstPage}>
                First page
              </button>
            </>
          )}
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
                    {job.status === 'queued' && job.waiting_reason && (
                      <div className="muted small" title={job.waiting_reason}>
                        No worker offers its type
                      </div>
                    )}
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

      {(total > 0 || page > 0) && (
        <nav className="pager" aria-label="Jobs pages">
          <button
            type="button"
            className="button button-small"
            onClick={() => setCursors((earlier) => earlier.slice(0, -1))}
            disabled={page === 0}
          >
            Previous
          </button>
          {list && <span className="pager-range">{pageRange(first, rows.length, total)}</span>}
          <button
            type="button"
            className="button button-small"
            onClick={() => {
              const next = list?.next_before
              if (next) setCursors((earlier) => [...earlier, next])
            }}
            // Not while a page loads: the cursor on screen is still the page before's.
            disabled={!list?.next_before || jobs.isPlaceholderData}
          >
            Next
          </button>
        </nav>
      )}
    </section>
  )
}
