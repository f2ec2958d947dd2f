import { useMutation, useQueryClient } from '@tanstack/react-query'
import { apiRequest } from '@/lib/api-client'
import type { JobSubmit, SubmitJobResponse } from '@/types/api'
import { jobsKey } from './get-jobs'

export interface SubmitJobInput extends JobSubmit {
  /** Sent as Idempotency-Key, so a retried click cannot submit twice. */
  idempotencyKey?: string
}

/** POST /job_submit. */
export function submitJob({ idempotencyKey, ...body }: SubmitJobInput): Promise<SubmitJobResponse> {
  return apiRequest<SubmitJobResponse>('middleware', '/job_submit', {
    method: 'POST',
    body,
    headers: idempotencyKey ? { 'Idempotency-Key': idempotencyKey } : undefined,
  })
}

export function useSubmitJob() {
  const queryClient = useQueryClient()
  return useMutation({
    mutationFn: submitJob,
    retry: false,
    // Refetch the lists at once, so the new job shows up straight away.
    onSuccess: () => queryClient.invalidateQueries({ queryKey: jobsKey }),
  })
}
