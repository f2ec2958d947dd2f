/**
 * The shapes the auth service and the middleware API send and receive.
 *
 * Every shape the OpenAPI documents describe is an alias of the type generated
 * from them (src/types/generated/, `npm run gen:api`), so it cannot drift from
 * the API; `npm run check:api` fails when the generated files are out of date.
 * Only names the documents do not have are made here, and from those types.
 */
import type { components as AuthComponents } from './generated/auth'
import type { components as MiddlewareComponents } from './generated/middleware'

type AuthSchemas = AuthComponents['schemas']
type MiddlewareSchemas = MiddlewareComponents['schemas']

// The middleware API

export type JobStatus = MiddlewareSchemas['JobStatus']

export type Job = MiddlewareSchemas['Job']

/** What a running job last said of its progress (`fraction` 0..1, `message`). */
export type JobProgress = NonNullable<Job['progress']>

/** The result of a succeeded job: any JSON value its type returned (a string for `reverse`). */
export type JobResult = Job['result']

/** One step in a job's history. */
export type JobEvent = MiddlewareSchemas['JobEvent']

export type JobEventName = JobEvent['status']

/** GET /jobs/{job_id}: a job with its history (`events`). */
export type JobDetail = MiddlewareSchemas['JobDetail']

/** GET /list_jobs: a page of jobs (JobPage in the OpenAPI document). */
export type JobList = MiddlewareSchemas['JobPage']

/** Any JSON value. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue }

/**
 * The body of POST /job_submit. `data` is any JSON value the type's
 * `input_schema` accepts; the generated type says `Record<string, never>` for
 * an object (openapi-typescript's reading of a bare `"object"`), so it is
 * widened here to any JSON value.
 */
export type JobSubmit = Omit<MiddlewareSchemas['JobSubmit'], 'data'> & { data: JsonValue }

/** What POST /job_submit answers (JobSubmitted in the OpenAPI document). */
export type SubmitJobResponse = MiddlewareSchemas['JobSubmitted']

/** One entry of GET /job_types: a type a submit may name, with its input schema. */
export type JobType = MiddlewareSchemas['JobType']

/** GET /job_types. */
export type JobTypeList = MiddlewareSchemas['JobTypes']

/** The type a submit runs when it names none. */
export const DEFAULT_JOB_TYPE = 'reverse'

export type PlatformStatus = MiddlewareSchemas['PlatformStatus']

export type ComponentStatus = MiddlewareSchemas['ComponentStatus']

export type ComponentName = keyof PlatformStatus['components']

// The auth service

/** The body of POST /login. */
export type LoginRequest = AuthSchemas['LoginRequest']

/** What POST /login answers (Login in the OpenAPI document). */
export type LoginResponse = AuthSchemas['Login']

/** The error body every service sends with a 4xx or 5xx (`path`: where in `data` a 422 invalid_data is). */
export type ApiErrorBody = AuthSchemas['Error'] | MiddlewareSchemas['Error']

// Lists of every value of a union, checked at compile time

/**
 * Returns LIST as it is. It does not compile when LIST holds a value outside T
 * or leaves out a member of T: the error then names the missing members.
 */
function everyMemberOf<T>() {
  return <const List extends readonly T[]>(
    list: List & ([Exclude<T, List[number]>] extends [never] ? unknown : { missing: Exclude<T, List[number]> }),
  ): List => list
}

/** Every job status, in the order a job goes through them. */
export const JOB_STATUSES = everyMemberOf<JobStatus>()([
  'queued',
  'running',
  'succeeded',
  'failed',
  'cancelled',
])

/** The statuses /platform_status counts jobs by (`jobs_by_status`). */
export type CountedJobStatus = keyof NonNullable<PlatformStatus['jobs_by_status']>

/** Every status /platform_status counts jobs by, in the order the app shows them. */
export const COUNTED_JOB_STATUSES = everyMemberOf<CountedJobStatus>()([
  'queued',
  'running',
  'succeeded',
  'failed',
  'cancelled',
])

/** Every component of the platform status, in the order the app shows them. */
export const COMPONENT_NAMES = everyMemberOf<ComponentName>()(['auth', 'middleware', 'core'])
