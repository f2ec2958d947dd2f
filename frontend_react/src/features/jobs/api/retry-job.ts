import { useMutation, useQueryClient } from '@tanstack/react-query'
import { apiRequest } from '@/lib/api-client'
import type { Job } from '@/types/api'
import { jobsKey } from './get-jobs'

/** POST /jobs/<job_id>/retry: a failed job goes back in the queue. */
export function retryJob(jobId: string): Promise<Job> {
  return apiRequest<Job>('middleware', `/jobs/${encodeURIComponent(jobId)}/retry`, {
    method: 'POST',
  })
}

export function useRetryJob() {
  const queryClient = useQueryClient()
  return useMutation({
    mutationFn: retryJob,
    retry: false,
    onSuccess: () => queryClient.invalidateQueries({ queryKey: jobsKey }),
  })
}
