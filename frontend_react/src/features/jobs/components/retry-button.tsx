import { errorMessage } from '@/lib/api-client'
import { useRetryJob } from '../api/retry-job'

export function RetryButton({ jobId, jobName }: { jobId: string; jobName: string }) {
  const retry = useRetryJob()
  return (
    <span className="retry">
      <button
        type="button"
        className="button button-small"
        onClick={() => retry.mutate(jobId)}
        disabled={retry.isPending}
        aria-label={`Retry ${jobName}`}
      >
        {retry.isPending ? 'Retrying…' : 'Retry'}
      </button>
      {retry.isError && (
        <span className="field-error" role="alert">
          {errorMessage(retry.error)}
        </span>
      )}
    </span>
  )
}
