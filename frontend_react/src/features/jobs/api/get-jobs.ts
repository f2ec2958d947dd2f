import { keepPreviousData, useQuery } from '@tanstack/react-query'
import { apiRequest } from '@/lib/api-client'
import type { Job, JobList, JobStatus } from '@/types/api'

export interface JobsQuery {
  status?: JobStatus | null
  limit: number
  /**
   * Keyset paging: only jobs older than this cursor (the `next_before` of the
   * newer page); null or absent for the first (newest) page.
   */
  before?: string | null
}

/** How often the list refreshes while a job on the page is unfinished. */
export const JOBS_REFRESH_MS = 1_000

/** Every cached jobs list starts with this key: invalidate it after a change. */
export const jobsKey = ['jobs'] as const

export function jobsQueryKey(query: JobsQuery) {
  return [...jobsKey, 'list', query.status ?? 'all', query.limit, query.before ?? 'first'] as const
}

export function isUnfinished(job: Pick<Job, 'status'>): boolean {
  return job.status === 'queued' || job.status === 'running'
}

/** Whether a cancel can still stop it: it has not finished. */
export function isCancellable(job: Pick<Job, 'status'>): boolean {
  return isUnfinished(job)
}

/**
 * GET /list_jobs: the user's jobs, newest first, a page at a time by cursor
 * (`before`), never by `offset`: a deep page costs the store no more than the first.
 */
export function getJobs(query: JobsQuery, signal?: AbortSignal): Promise<JobList> {
  return apiRequest<JobList>('middleware', '/list_jobs', {
    query: { status: query.status ?? undefined, limit: query.limit, before: query.before ?? undefined },
    signal,
  })
}

/** Poll while any job on the page is unfinished; stop once all are done. */
export function jobsRefetchInterval(list: JobList | undefined): number | false {
  return list?.jobs.some(isUnfinished) ? JOBS_REFRESH_MS : false
}

export function useJobs(query: JobsQuery) {
  return useQuery({
    queryKey: jobsQueryKey(query),
    queryFn: ({ signal }) => getJobs(query, signal),
    placeholderData: keepPreviousData,
    refetchInterval: (q) => jobsRefetchInterval(q.state.data),
    refetchIntervalInBackground: false,
  })
}
