/**
 * The one HTTP client for the auth service and the middleware API.
 *
 * It is the only place that knows the error shape
 * (`{"error", "code", "field"?, "path"?, "retry_after"?}`) and the only place that
 * handles a 401 on an authenticated call: it ends the session with a message,
 * and the app (which listens to the session) clears its cache and shows the
 * login page.
 */
import { getRuntimeConfig } from '@/config/runtime-config'
import type { ApiErrorBody } from '@/types/api'
import { SESSION_EXPIRED_MESSAGE, endSession, getValidSession } from './session'

export type Service = 'auth' | 'middleware'

export type ApiErrorKind = 'http' | 'network' | 'session'

export class ApiError extends Error {
  readonly kind: ApiErrorKind
  /** The HTTP status; 0 when the service did not answer. */
  readonly status: number
  readonly code: string
  /** The request field the error is about, when the API named one. */
  readonly field: string | null
  /** Where in the submitted `data` the error is, as a JSON path (`$`, `$.text`; 422 invalid_data). */
  readonly path: string | null
  /** Seconds to wait before trying again (429). */
  readonly retryAfter: number | null
  readonly requestId: string | null

  constructor(
    message: string,
    options: {
      kind: ApiErrorKind
      status?: number
      code?: string
      field?: string | null
      path?: string | null
      retryAfter?: number | null
      requestId?: string | null
    },
  ) {
    super(message)
    this.name = 'ApiError'
    this.kind = options.kind
    this.status = options.status ?? 0
    this.code = options.code ?? options.kind
    this.field = options.field ?? null
    this.path = options.path ?? null
    this.retryAfter = options.retryAfter ?? null
    this.requestId = options.requestId ?? null
  }
}

export function isApiError(error: unknown): error is ApiError {
  return error instanceof ApiError
}

/** A message for a person, whatever was thrown. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error && error.message) return error.message
  return 'Something went wrong, please try again'
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE'
  /** Sent as JSON. */
  body?: unknown
  query?: Record<string, string | number | undefined | null>
  headers?: Record<string, string>
  /** Send the session's bearer token (default true). */
  auth?: boolean
  signal?: AbortSignal
}

function baseUrl(service: Service): string {
  const config = getRuntimeConfig()
  return service === 'auth' ? config.authUrl : config.middlewareUrl
}

function buildUrl(service: Service, path: string, query: RequestOptions['query']): string {
  const url = new URL(baseUrl(service) + path)
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== '') {
      url.searchParams.set(key, String(value))
    }
  }
  return url.toString()
}

function parseRetryAfter(response: Response, body: Partial<ApiErrorBody> | null): number | null {
  const header = response.headers.get('Retry-After')
  if (header !== null && /^\d+$/.test(header.trim())) {
    return Number(header.trim())
  }
  if (typeof body?.retry_after === 'number') {
    return Math.max(0, Math.ceil(body.retry_after))
  }
  return null
}

async function readErrorBody(response: Response): Promise<Partial<ApiErrorBody> | null> {
  try {
    const body: unknown = await response.json()
    return typeof body === 'object' && body !== null ? (body as Partial<ApiErrorBody>) : null
  } catch {
    return null
  }
}

async function toApiError(response: Response): Promise<ApiError> {
  const body = await readErrorBody(response)
  const retryAfter = response.status === 429 ? parseRetryAfter(response, body) : null
  let message =
    typeof body?.error === 'string' && body.error !== ''
      ? body.error
      : `The request failed (HTTP ${response.status})`
  if (response.status === 429) {
    message =
      retryAfter !== null
        ? `Too many failed attempts, try again in ${retryAfter} s`
        : 'Too many failed attempts, try again later'
  }
  return new ApiError(message, {
    kind: 'http',
    status: response.status,
    code: typeof body?.code === 'string' ? body.code : `http_${response.status}`,
    field: typeof body?.field === 'string' ? body.field : null,
    path: typeof body?.path === 'string' ? body.path : null,
    retryAfter,
    requestId: response.headers.get('X-Request-ID'),
  })
}

function sessionExpired(): ApiError {
  endSession(SESSION_EXPIRED_MESSAGE)
  return new ApiError(SESSION_EXPIRED_MESSAGE, { kind: 'session', status: 401, code: 'token_expired' })
}

/** Call a service and return its JSON body, or throw an ApiError. */
export async function apiRequest<T>(
  service: Service,
  path: string,
  options: RequestOptions = {},
): Promise<T> {
  const { method = 'GET', body, query, auth = true, signal } = options
  const headers: Record<string, string> = { Accept: 'application/json', ...options.headers }
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  if (auth) {
    const session = getValidSession()
    if (session === null) throw sessionExpired()
    headers.Authorization = `Bearer ${session.token}`
  }

  const url = buildUrl(service, path, query)
  let response: Response
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    })
  } catch (error) {
    if (error instanceof DOMException && error.name === 'AbortError') throw error
    throw new ApiError(`The ${service} service at ${baseUrl(service)} is not answering`, {
      kind: 'network',
      code: 'unreachable',
    })
  }

  if (!response.ok) {
    if (auth && response.status === 401) throw sessionExpired()
    throw await toApiError(response)
  }
  if (response.status === 204) return undefined as T
  try {
    return (await response.json()) as T
  } catch {
    throw new ApiError(`The ${service} service sent a reply that is not JSON`, {
      kind: 'http',
      status: response.status,
      code: 'bad_response',
    })
  }
}
