/** Test helpers: fake `fetch` at the edge and render with the app's providers. */
import { QueryClient } from '@tanstack/react-query'
import { render } from '@testing-library/react'
import type { ReactElement } from 'react'
import { MemoryRouter, RouterProvider, createMemoryRouter, type RouteObject } from 'react-router-dom'
import { vi } from 'vitest'
import { AppProviders } from '@/app/providers'
import { startSession } from '@/lib/session'

export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json', ...headers },
  })
}

export interface FetchCall {
  url: string
  method: string
  headers: Record<string, string>
  body: unknown
}

type Handler = (call: FetchCall) => Response | Promise<Response>

/** Replace global fetch; returns the list of calls made. */
export function mockFetch(handler: Handler): FetchCall[] {
  const calls: FetchCall[] = []
  vi.stubGlobal(
    'fetch',
    vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
      const call: FetchCall = {
        url: String(input),
        method: init.method ?? 'GET',
        headers: (init.headers ?? {}) as Record<string, string>,
        body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
      }
      calls.push(call)
      return handler(call)
    }),
  )
  return calls
}

export function testQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: { queries: { retry: false, gcTime: Infinity }, mutations: { retry: false } },
  })
}

/** A token whose payload has `exp` (seconds), like the auth service's JWTs. */
export function fakeJwt(claims: Record<string, unknown>): string {
  const encode = (value: unknown) => btoa(JSON.stringify(value)).replace(/=+$/, '')
  return `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode(claims)}.signature`
}

export function signIn(username = 'alice', ttlSeconds = 1800): void {
  startSession({
    token: fakeJwt({ sub: username, exp: Math.floor(Date.now() / 1000) + ttlSeconds }),
    username,
    role: 'user',
    expires_in: ttlSeconds,
  })
}

export function renderWithProviders(ui: ReactElement, { route = '/' } = {}) {
  const queryClient = testQueryClient()
  const result = render(
    <AppProviders queryClient={queryClient}>
      <MemoryRouter initialEntries={[route]}>{ui}</MemoryRouter>
    </AppProviders>,
  )
  return { ...result, queryClient }
}

export function renderRoutes(routes: RouteObject[], { route = '/' } = {}) {
  const queryClient = testQueryClient()
  const router = createMemoryRouter(routes, { initialEntries: [route] })
  const result = render(
    <AppProviders queryClient={queryClient}>
      <RouterProvider router={router} />
    </AppProviders>,
  )
  return { ...result, queryClient, router }
}
