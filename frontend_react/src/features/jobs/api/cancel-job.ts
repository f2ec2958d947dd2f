import { useMutation, useQueryClient } from '@tanstack/react-query'
import { apiRequest } from '@/lib/api-client'
import type { Job } from '@/types/api'
import { jobsKey } from './get-jobs'

/**
 * POST /jobs/<job_id>/cancel: a queued job is cancelled at once; a running one
 * gets `cancel_requested` until it stops. 409 not_cancellable once finished.
 */
export function cancelJob(jobId: string): Promise<Job> {
  return apiRequest<Job>('middleware', `/jobs/${encodeURIComponent(jobId)}/cancel`, {
    method: 'POST',
  })
}

export function useCancelJob() {
  const queryClient = useQueryClient()
  return useMutation({
    mutationFn: cancelJob,
    retry: false,
    // The lists and the job's own page (all under jobsKey) show the new state.
    onSuccess: () => queryClient.invalidateQueries({ queryKey: jobsKey }),
  })
}
