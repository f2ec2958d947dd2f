/** The shapes the auth service and the middleware API send and receive. */

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed'

export const JOB_STATUSES: readonly JobStatus[] = ['queued', 'running', 'succeeded', 'failed']

export interface Job {
  job_id: string
  job_name: string
  owner: string
  status: JobStatus
  created_at: string | null
  started_at: string | null
  completed_at: string | null
  result: string | null
  error: string | null
  request_id: string | null
}

export type JobEventName =
  | 'submitted'
  | 'forwarded'
  | 'queued'
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'callback_delivered'
  | 'retry_requested'

export interface JobEvent {
  at: string
  status: JobEventName | string
  service: 'auth' | 'middleware' | 'core' | string
  detail: string | null
}

export interface JobDetail extends Job {
  events: JobEvent[]
}

export interface JobList {
  jobs: Job[]
  total: number
  limit: number
  offset: number
}

export interface SubmitJobResponse {
  job_id: string
  status: JobStatus
  job?: Job
}

export interface LoginResponse {
  token: string
  token_type: 'Bearer'
  expires_in: number
  username: string
  role: 'user' | 'admin'
}

export type ComponentName = 'auth' | 'middleware' | 'core'

export interface ComponentStatus {
  up: boolean
  ready: boolean
  reason: string | null
  latency_ms: number | null
  version: string | null
  uptime_s: number | null
  url: string
  restarts: number | null
  last_exit_code: number | null
  last_exit_at: string | null
}

export interface PlatformStatus {
  components: Record<ComponentName, ComponentStatus>
  all_ready: boolean
  queue_size: number | null
  oldest_queued_age_s: number | null
  jobs_by_status: Record<JobStatus, number>
  callbacks_pending: number | null
  checked_at: string
}

/** The error body every service sends with a 4xx or 5xx. */
export interface ApiErrorBody {
  error: string
  code: string
  field?: string
  retry_after?: number
}
