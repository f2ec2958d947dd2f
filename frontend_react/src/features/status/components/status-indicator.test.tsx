import { screen } from '@testing-library/react'
import { describe, expect, it } from 'vitest'
import type { ComponentStatus, PlatformStatus } from '@/types/api'
import { jsonResponse, mockFetch, renderWithProviders, signIn } from '@/test/utils'
import { StatusIndicator } from './status-indicator'

function component(up: boolean, ready = up): ComponentStatus {
  return {
    up,
    ready,
    reason: up ? null : 'connection refused',
    latency_ms: up ? 1.5 : null,
    version: '0.1.0',
    uptime_s: 10,
    url: 'http://127.0.0.1:1',
    restarts: 0,
    last_exit_code: null,
    last_exit_at: null,
  }
}

function status(core: ComponentStatus, auth = component(true)): PlatformStatus {
  return {
    components: { auth, middleware: component(true), core },
    all_ready: core.ready && auth.ready,
    queue_size: 0,
    oldest_queued_age_s: null,
    jobs_by_status: { queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 },
    jobs_waiting_for_core: 0,
    callbacks_pending: 0,
    checked_at: '2026-01-01T10:00:00Z',
  }
}

describe('StatusIndicator', () => {
  it('is green when every component is ready', async () => {
    signIn()
    mockFetch(() => jsonResponse(200, status(component(true))))
    renderWithProviders(<StatusIndicator />)
    const link = await screen.findByRole('link', { name: 'Platform status: All systems operational' })
    expect(link).toHaveClass('status-ok')
    expect(link).toHaveAttribute('href', '/status')
  })

  it('is red and names the component that is down', async () => {
    signIn()
    mockFetch(() => jsonResponse(200, status(component(false))))
    renderWithProviders(<StatusIndicator />)
    expect(await screen.findByRole('link', { name: 'Platform status: core is down' })).toHaveClass('status-bad')
  })

  it('names every component down or not ready', async () => {
    signIn()
    mockFetch(() => jsonResponse(200, status(component(true, false), component(false))))
    renderWithProviders(<StatusIndicator />)
    expect(await screen.findByText('auth is down; core is not ready')).toBeInTheDocument()
  })

  it('says the middleware is not answering when /platform_status fails', async () => {
    signIn()
    mockFetch(() => Promise.reject(new TypeError('Failed to fetch')))
    renderWithProviders(<StatusIndicator />)
    expect(await screen.findByRole('link', { name: 'Platform status: middleware is not answering' })).toHaveClass(
      'status-bad',
    )
  })
})
