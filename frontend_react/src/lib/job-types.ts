/** The job types (GET /job_types): the submit form picks one, the status page lists them. */
import { useQuery } from '@tanstack/react-query'
import { apiRequest } from '@/lib/api-client'
import type { JobTypeList } from '@/types/api'

export const jobTypesKey = ['job-types'] as const

/** How long a fetched list of types is fresh: workers come and go, but not every second. */
export const JOB_TYPES_STALE_MS = 30_000

/** GET /job_types: the types a submit may name, their input schemas and whether a worker offers each. */
export function getJobTypes(signal?: AbortSignal): Promise<JobTypeList> {
  return apiRequest<JobTypeList>('middleware', '/job_types', { signal })
}

export function useJobTypes() {
  return useQuery({
    queryKey: jobTypesKey,
    queryFn: ({ signal }) => getJobTypes(signal),
    staleTime: JOB_TYPES_STALE_MS,
  })
}
