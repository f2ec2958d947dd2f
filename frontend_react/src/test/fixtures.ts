/** Shapes the API sends, for tests: complete, so a new field in the contract shows up here first. */
import type { Job, JobType, JobTypeList } from '@/types/api'

export function makeJob(overrides: Partial<Job> = {}): Job {
  return {
    job_id: 'j1',
    job_name: 'reverse',
    owner: 'alice',
    status: 'queued',
    created_at: '2026-01-01T10:00:00Z',
    started_at: null,
    completed_at: null,
    result: null,
    error: null,
    request_id: 'r1',
    attempt: 1,
    job_type: 'reverse',
    progress: null,
    cancel_requested: false,
    ...overrides,
  }
}

export const REVERSE_TYPE: JobType = {
  name: 'reverse',
  title: 'Reverse a text',
  input_schema: { type: 'string', minLength: 1 } as unknown as JobType['input_schema'],
  timeout_s: 30,
  max_retries: 0,
  available: true,
  reason: null,
  offered_by: ['core'],
}

export const WORDCOUNT_TYPE: JobType = {
  name: 'wordcount',
  title: 'Count words',
  input_schema: {
    type: 'object',
    properties: {
      text: { type: 'string', title: 'Text', minLength: 1 },
      top: { type: 'integer', title: 'Top words', minimum: 1 },
    },
    required: ['text'],
  } as unknown as JobType['input_schema'],
  timeout_s: 60,
  max_retries: 2,
  available: true,
  reason: null,
  offered_by: ['worker-1'],
}

export const RESIZE_TYPE: JobType = {
  name: 'resize',
  title: 'Resize an image',
  input_schema: { type: 'object' } as unknown as JobType['input_schema'],
  timeout_s: 120,
  max_retries: 1,
  available: false,
  reason: 'No running worker offers it (last offered by gpu-1)',
  offered_by: [],
}

export function jobTypes(types: JobType[] = [REVERSE_TYPE, WORDCOUNT_TYPE, RESIZE_TYPE]): JobTypeList {
  return { job_types: types, checked_at: '2026-01-01T10:00:00Z' }
}
