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

/** One step in a job's history. */
export type JobEvent = MiddlewareSchemas['JobEvent']

export type JobEventName = JobEvent['status']

/** GET /jobs/{job_id}: a job with its history (`events`). */
export type JobDetail = MiddlewareSchemas['JobDetail']

/** GET /list_jobs: a page of jobs (JobPage in the OpenAPI document). */
export type JobList = MiddlewareSchemas['JobPage']

/** The body of POST /job_submit. */
export type JobSubmit = MiddlewareSchemas['JobSubmit']

/** What POST /job_submit answers (JobSubmitted in the OpenAPI document). */
export type SubmitJobResponse = MiddlewareSchemas['JobSubmitted']

export type PlatformStatus = MiddlewareSchemas['PlatformStatus']

export type ComponentStatus = MiddlewareSchemas['ComponentStatus']

export type ComponentName = keyof PlatformStatus['components']

// The auth service

/** The body of POST /login. */
export type LoginRequest = AuthSchemas['LoginRequest']

/** What POST /login answers (Login in the OpenAPI document). */
export type LoginResponse = AuthSchemas['Login']

/** The error body every service sends with a 4xx or 5xx. */
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
export const JOB_STATUSES = everyMemberOf<JobStatus>()(['queued', 'running', 'succeeded', 'failed'])

/** Every component of the platform status, in the order the app shows them. */
export const COMPONENT_NAMES = everyMemberOf<ComponentName>()(['auth', 'middleware', 'core'])
