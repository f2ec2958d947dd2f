import { errorMessage } from '@/lib/api-client'
import { formatDateTime, formatDuration } from '@/lib/format'
import { COMPONENT_NAMES, COUNTED_JOB_STATUSES, type ComponentStatus } from '@/types/api'
import { useJobTypes } from '@/lib/job-types'
import { usePlatformStatus } from '../api/get-platform-status'
import { summarizeStatus } from './summarize-status'

function num(value: number | null | undefined): string {
  return value === null || value === undefined ? '—' : String(value)
}

function StateCell({ component }: { component: ComponentStatus }) {
  if (!component.up) return <span className="pill pill-bad">Down</span>
  if (!component.ready) return <span className="pill pill-warn">Up, not ready</span>
  return <span className="pill pill-ok">Ready</span>
}

export function StatusOverview() {
  const status = usePlatformStatus()
  const failed = status.isError && status.errorUpdatedAt >= status.dataUpdatedAt
  const summary = summarizeStatus(status.data, failed)
  const data = status.data

  return (
    <div className="stack-lg">
      <div className={`banner ${summary.ok ? 'banner-ok' : status.isPending ? 'banner-pending' : 'banner-bad'}`}>
        <span className="status-dot" aria-hidden="true" />
        <div>
          <strong>{summary.text}</strong>
          {failed && <div className="small">{errorMessage(status.error)}</div>}
          {data && (
            <div className="small muted-on-banner">
              Checked {formatDateTime(data.checked_at)} · refreshes every 3 s
            </div>
          )}
        </div>
      </div>

      {data && (
        <>
          <section className="card" aria-labelledby="components-title">
            <h2 id="components-title">Components</h2>
            <div className="table-wrap">
              <table className="status-table">
                <thead>
                  <tr>
                    <th scope="col">Component</th>
                    <th scope="col">State</th>
                    <th scope="col">Reason</th>
                    <th scope="col">Latency</th>
                    <th scope="col">Version</th>
                    <th scope="col">Uptime</th>
                    <th scope="col">Restarts</th>
                  </tr>
                </thead>
                <tbody>
                  {COMPONENT_NAMES.map((name) => {
                    const c = data.components[name]
                    if (!c) return null
                    return (
                      <tr key={name}>
                        <th scope="row" data-label="Component">
                          {name}
                          <div className="muted small">{c.url}</div>
                        </th>
                        <td data-label="State">
                          <StateCell component={c} />
                        </td>
                        <td data-label="Reason">{c.reason ?? '—'}</td>
                        <td data-label="Latency">
                          {c.latency_ms === null ? '—' : `${c.latency_ms.toFixed(1)} ms`}
                        </td>
                        <td data-label="Version">{c.version ?? '—'}</td>
                        <td data-label="Uptime">{formatDuration(c.uptime_s)}</td>
                        <td data-label="Restarts">
                          {num(c.restarts)}
                          {c.last_exit_code !== null && c.last_exit_code !== undefined && (
                            <div className="muted small">
                              last exit {c.last_exit_code}
                              {c.last_exit_at ? ` at ${formatDateTime(c.last_exit_at)}` : ''}
                            </div>
                          )}
                        </td>
                      </tr>
                    )
                  })}
                </tbody>
              </table>
            </div>
          </section>

          <JobTypesSection />

          <section className="card" aria-labelledby="queue-title">
            <h2 id="queue-title">Queue</h2>
            <dl className="metrics">
              <div className="metric">
                <dt>Queue size</dt>
                <dd>{num(data.queue_size)}</dd>
              </div>
              <div className="metric">
                <dt>Oldest queued job</dt>
                <dd>{formatDuration(data.oldest_queued_age_s)}</dd>
              </div>
              <div className="metric">
                <dt>Pending callbacks</dt>
                <dd>{num(data.callbacks_pending)}</dd>
              </div>
              {COUNTED_JOB_STATUSES.map((s) => (
                <div className={`metric metric-${s}`} key={s}>
                  <dt>Jobs {s}</dt>
                  <dd>{num(data.jobs_by_status?.[s])}</dd>
                </div>
              ))}
            </dl>
          </section>
        </>
      )}
    </div>
  )
}

/** The job types and the workers that offer each (a type nobody offers: why). */
function JobTypesSection() {
  const types = useJobTypes()
  return (
    <section className="card" aria-labelledby="job-types-title">
      <h2 id="job-types-title">Job types</h2>
      {types.isError ? (
        <p className="muted">Cannot read the job types: {errorMessage(types.error)}</p>
      ) : types.data === undefined ? (
        <p className="muted">Loading…</p>
      ) : (
        <ul className="job-types-status">
          {types.data.job_types.map((type) => (
            <li key={type.name}>
              <strong>{type.name}</strong>{' '}
              {type.available ? (
                <span>offered by {type.offered_by.join(', ') || 'the platform'}</span>
              ) : (
                <span className="warning">not offered: {type.reason ?? 'no worker has it'}</span>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  )
}
