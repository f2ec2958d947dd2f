import { screen } from '@testing-library/react'
import { describe, expect, it } from 'vitest'
import type { ComponentStatus, JobTypeList, PlatformStatus } from '@/types/api'
import { jsonResponse, mockFetch, renderWithProviders, signIn } from '@/test/utils'
import { StatusOverview } from './status-overview'

function component(): ComponentStatus {
  return {
    up: true,
    ready: true,
    reason: null,
    latency_ms: 1.5,
    version: '0.1.0',
    uptime_s: 10,
    url: 'http://127.0.0.1:1',
    restarts: 0,
    last_exit_code: null,
    last_exit_at: null,
  }
}

const STATUS: PlatformStatus = {
  components: { auth: component(), middleware: component(), core: component() },
  all_ready: true,
  queue_size: 0,
  oldest_queued_age_s: null,
  jobs_by_status: { queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 },
  jobs_waiting_for_core: 0,
  callbacks_pending: 0,
  checked_at: '2026-01-01T10:00:00Z',
}

const TYPES: JobTypeList = {
  checked_at: '2026-01-01T10:00:00Z',
  job_types: [
    {
      name: 'reverse',
      title: 'Reverse a text',
      input_schema: { type: 'string' },
      timeout_s: 60,
      max_retries: 0,
      available: true,
      reason: null,
      offered_by: ['core'],
    },
    {
      name: 'wordcount',
      title: 'Count words',
      input_schema: {},
      timeout_s: 30,
      max_retries: 2,
      available: false,
      reason: 'no Celery worker online offers it',
      offered_by: [],
    },
  ],
}

describe('StatusOverview', () => {
  it('lists the job types, who offers each, and why one is not offered', async () => {
    signIn()
    mockFetch((call) => jsonResponse(200, call.url.includes('/job_types') ? TYPES : STATUS))
    renderWithProviders(<StatusOverview />)
    expect(await screen.findByRole('heading', { name: 'Job types' })).toBeInTheDocument()
    expect(await screen.findByText('offered by core')).toBeInTheDocument()
    expect(screen.getByText('not offered: no Celery worker online offers it')).toBeInTheDocument()
  })
})
