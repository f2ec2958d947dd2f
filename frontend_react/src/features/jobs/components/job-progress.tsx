import type { JobProgress } from '@/types/api'

/** A fraction 0..1 as a whole percentage, kept within 0..100. */
function progressPercent(fraction: number): number {
  if (!Number.isFinite(fraction)) return 0
  return Math.round(Math.min(1, Math.max(0, fraction)) * 100)
}

/**
 * How far a running job says it is: a bar at `fraction` with its message
 * beside it; without a report, a bar that only says it is working.
 */
export function JobProgressBar({ progress, label }: { progress: JobProgress | null; label: string }) {
  if (progress === null) {
    return (
      <div className="progress">
        <div
          className="progress-track progress-indeterminate"
          role="progressbar"
          aria-label={label}
          aria-valuetext="Working, no progress reported"
        >
          <div className="progress-fill" />
        </div>
        <span className="progress-text muted small">Working…</span>
      </div>
    )
  }
  const percent = progressPercent(progress.fraction)
  return (
    <div className="progress">
      <div
        className="progress-track"
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent}
        aria-valuetext={progress.message ? `${percent}%: ${progress.message}` : `${percent}%`}
      >
        <div className="progress-fill" style={{ width: `${percent}%` }} />
      </div>
      <span className="progress-text small">
        <strong>{percent}%</strong>
        {progress.message && <span className="progress-message"> {progress.message}</span>}
      </span>
    </div>
  )
}
