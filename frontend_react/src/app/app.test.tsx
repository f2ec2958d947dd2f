import { screen, waitFor } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'
import { getSession } from '@/lib/session'
import { jobTypes } from '@/test/fixtures'
import { jsonResponse, mockFetch, renderRoutes, signIn } from '@/test/utils'
import { routes } from './router'

const EMPTY_STATUS = {
  components: {},
  all_ready: true,
  queue_size: 0,
  oldest_queued_age_s: null,
  jobs_by_status: { queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 },
  callbacks_pending: 0,
  checked_at: '2026-01-01T10:00:00Z',
}

describe('the app', () => {
  it('sends a visitor without a session to the login page', async () => {
    mockFetch(() => jsonResponse(200, {}))
    renderRoutes(routes, { route: '/status' })
    expect(await screen.findByRole('heading', { name: 'Sign in' })).toBeInTheDocument()
  })

  it('greets the user, and Logout forgets the token', async () => {
    signIn('alice')
    mockFetch((call) => {
      if (call.url.includes('/platform_status')) return jsonResponse(200, EMPTY_STATUS)
      if (call.url.includes('/job_types')) return jsonResponse(200, jobTypes())
      return jsonResponse(200, { jobs: [], total: 0, limit: 20, offset: 0 })
    })
    const { router } = renderRoutes(routes)
    expect(await screen.findByRole('heading', { name: 'Hi alice' })).toBeInTheDocument()
    expect(await screen.findByRole('radio', { name: /Reverse a text/ })).toBeChecked()
    await userEvent.setup().click(screen.getByRole('button', { name: 'Logout' }))
    expect(await screen.findByRole('heading', { name: 'Sign in' })).toBeInTheDocument()
    expect(router.state.location.pathname).toBe('/login')
    expect(getSession()).toBeNull()
    expect(window.sessionStorage.length).toBe(0)
  })

  it('goes back to login with a message, and an empty cache, on a 401', async () => {
    signIn('alice')
    mockFetch(() => jsonResponse(401, { error: 'Token expired', code: 'token_expired' }))
    const { queryClient } = renderRoutes(routes)
    expect(await screen.findByText('Your session has expired, please sign in again')).toBeInTheDocument()
    expect(screen.getByRole('heading', { name: 'Sign in' })).toBeInTheDocument()
    expect(screen.queryByText(/Hi alice/)).not.toBeInTheDocument()
    await waitFor(() => expect(queryClient.getQueryCache().getAll()).toHaveLength(0))
  })
})
