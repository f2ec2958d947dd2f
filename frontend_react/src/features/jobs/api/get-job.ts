import { useQuery } from '@tanstack/react-query'
import { apiRequest } from '@/lib/api-client'
import type { JobDetail } from '@/types/api'
import { JOBS_REFRESH_MS, isUnfinished, jobsKey } from './get-jobs'

export function jobQueryKey(jobId: string) {
  return [...jobsKey, 'detail', jobId] as const
}

/** GET /jobs/<job_id>: one job with its event timeline. */
export function getJob(jobId: string, signal?: AbortSignal): Promise<JobDetail> {
  return apiRequest<JobDetail>('middleware', `/jobs/${encodeURIComponent(jobId)}`, { signal })
}

export function useJob(jobId: string) {
  return useQuery({
    queryKey: jobQueryKey(jobId),
    queryFn: ({ signal }) => getJob(jobId, signal),
    refetchInterval: (q) => (q.state.data && isUnfinished(q.state.data) ? JOBS_REFRESH_MS : false),
    refetchIntervalInBackground: false,
  })
}
