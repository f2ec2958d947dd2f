import { errorMessage } from '@/lib/api-client'
import type { Job } from '@/types/api'
import { useCancelJob } from '../api/cancel-job'

/**
 * Cancels a queued or running job. While a running job is being stopped
 * (`cancel_requested`) it says so instead; a 409 (it finished first) is shown.
 */
export function CancelButton({ job }: { job: Pick<Job, 'job_id' | 'job_name' | 'cancel_requested'> }) {
  const cancel = useCancelJob()
  const cancelling = job.cancel_requested || cancel.isPending || cancel.isSuccess
  return (
    <span className="retry">
      <button
        type="button"
        className="button button-small button-danger"
        onClick={() => cancel.mutate(job.job_id)}
        disabled={cancelling}
        aria-label={`Cancel ${job.job_name}`}
      >
        {cancelling ? 'Cancelling…' : 'Cancel'}
      </button>
      {cancel.isError && (
        <span className="field-error" role="alert">
          {errorMessage(cancel.error)}
        </span>
      )}
    </span>
  )
}
