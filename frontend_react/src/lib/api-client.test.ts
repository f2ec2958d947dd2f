import { describe, expect, it } from 'vitest'
import { jsonResponse, mockFetch, signIn } from '@/test/utils'
import { ApiError, apiRequest } from './api-client'
import { SESSION_EXPIRED_MESSAGE, getSession, peekSessionNotice, startSession } from './session'

async function failure(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError)
    return error as ApiError
  }
  throw new Error('expected the request to fail')
}

describe('apiRequest', () => {
  it('sends the bearer token to the middleware and returns the JSON body', async () => {
    signIn('alice')
    const calls = mockFetch(() => jsonResponse(200, { jobs: [], total: 0, limit: 20, offset: 0 }))
    const body = await apiRequest('middleware', '/list_jobs', { query: { limit: 20, status: undefined } })
    expect(body).toEqual({ jobs: [], total: 0, limit: 20, offset: 0 })
    expect(calls[0]?.url).toBe('http://middleware.test/list_jobs?limit=20')
    expect(calls[0]?.headers.Authorization).toMatch(/^Bearer /)
  })

  it('reads the JSON path of an invalid_data error', async () => {
    signIn('alice')
    mockFetch(() =>
      jsonResponse(422, { error: "3 is not of type 'string'", code: 'invalid_data', field: 'data', path: '$.text' }),
    )
    const error = await failure(apiRequest('middleware', '/job_submit', { method: 'POST', body: {} }))
    expect(error.code).toBe('invalid_data')
    expect(error.field).toBe('data')
    expect(error.path).toBe('$.text')
  })

  it('reads the error shape, including the field', async () => {
    signIn('alice')
    mockFetch(() =>
      jsonResponse(400, { error: 'job_name is too long', code: 'invalid_input', field: 'job_name' }, { 'X-Request-ID': 'r1' }),
    )
    const error = await failure(apiRequest('middleware', '/job_submit', { method: 'POST', body: {} }))
    expect(error.message).toBe('job_name is too long')
    expect(error.status).toBe(400)
    expect(error.code).toBe('invalid_input')
    expect(error.field).toBe('job_name')
    expect(error.requestId).toBe('r1')
  })

  it('never gives an empty message for a body that is not the error shape', async () => {
    signIn('alice')
    mockFetch(() => new Response('<html>Bad gateway</html>', { status: 502 }))
    const error = await failure(apiRequest('middleware', '/list_jobs'))
    expect(error.message).toBe('The request failed (HTTP 502)')
  })

  it('ends the session with a message on a 401 from an authenticated call', async () => {
    signIn('alice')
    mockFetch(() => jsonResponse(401, { error: 'Token expired', code: 'token_expired' }))
    const error = await failure(apiRequest('middleware', '/list_jobs'))
    expect(error.message).toBe(SESSION_EXPIRED_MESSAGE)
    expect(getSession()).toBeNull()
    expect(window.sessionStorage.length).toBe(0)
    expect(peekSessionNotice()).toBe(SESSION_EXPIRED_MESSAGE)
  })

  it('keeps a 401 from the login call as a plain error', async () => {
    mockFetch(() => jsonResponse(401, { error: 'Invalid username or password', code: 'invalid_credentials' }))
    const error = await failure(apiRequest('auth', '/login', { method: 'POST', body: {}, auth: false }))
    expect(error.message).toBe('Invalid username or password')
    expect(peekSessionNotice()).toBeNull()
  })

  it('does not send a token that has expired by its exp', async () => {
    startSession({ token: 'a.b.c', username: 'alice', role: 'user', expires_in: 1 })
    const calls = mockFetch(() => jsonResponse(200, {}))
    const error = await failure(apiRequest('middleware', '/list_jobs'))
    expect(error.kind).toBe('session')
    expect(calls).toHaveLength(0)
    expect(getSession()).toBeNull()
  })

  it('reads Retry-After on a 429, or retry_after from the body', async () => {
    mockFetch(() => jsonResponse(429, { error: 'Locked', code: 'too_many_attempts', retry_after: 7 }, { 'Retry-After': '30' }))
    const fromHeader = await failure(apiRequest('auth', '/login', { method: 'POST', auth: false }))
    expect(fromHeader.retryAfter).toBe(30)
    expect(fromHeader.message).toBe('Too many failed attempts, try again in 30 s')

    mockFetch(() => jsonResponse(429, { error: 'Locked', code: 'too_many_attempts', retry_after: 7 }))
    const fromBody = await failure(apiRequest('auth', '/login', { method: 'POST', auth: false }))
    expect(fromBody.message).toBe('Too many failed attempts, try again in 7 s')
  })

  it('names the service and its URL when it does not answer', async () => {
    mockFetch(() => Promise.reject(new TypeError('Failed to fetch')))
    const error = await failure(apiRequest('auth', '/login', { method: 'POST', auth: false }))
    expect(error.kind).toBe('network')
    expect(error.message).toBe('The auth service at http://auth.test is not answering')
  })
})
