import { screen } from '@testing-library/react'
import { describe, expect, it } from 'vitest'
import { jsonResponse, mockFetch, renderWithProviders, signIn } from '@/test/utils'
import type { JobDetail } from '@/types/api'
import { JobDetailView } from './job-detail'

describe('JobDetailView', () => {
  it('shows the result and the event timeline', async () => {
    signIn()
    mockFetch(() =>
      jsonResponse(200, {
        job_id: 'j1',
        job_name: 'reverse',
        owner: 'alice',
        status: 'succeeded',
        created_at: '2026-01-01T10:00:00Z',
        started_at: '2026-01-01T10:00:01Z',
        completed_at: '2026-01-01T10:00:02Z',
        result: 'olleh',
        error: null,
        request_id: 'r1',
        attempt: 1,
        job_type: 'reverse',
        progress: null,
        cancel_requested: false,
        events: [
          { at: '2026-01-01T10:00:00Z', status: 'submitted', service: 'middleware', detail: null },
          { at: '2026-01-01T10:00:02Z', status: 'succeeded', service: 'core', detail: 'took 0.2 s' },
        ],
      } satisfies JobDetail),
    )
    renderWithProviders(<JobDetailView jobId="j1" />)
    expect(await screen.findByRole('heading', { name: 'reverse' })).toBeInTheDocument()
    expect(screen.getByText('olleh')).toBeInTheDocument()
    const items = screen.getAllByRole('listitem')
    expect(items).toHaveLength(2)
    expect(items[1]).toHaveTextContent('core')
    expect(items[1]).toHaveTextContent('took 0.2 s')
  })

  it('says so when the job is not the user’s (404)', async () => {
    signIn()
    mockFetch(() => jsonResponse(404, { error: 'No such job', code: 'not_found' }))
    renderWithProviders(<JobDetailView jobId="nope" />)
    expect(await screen.findByRole('alert')).toHaveTextContent('There is no such job, or it is not yours.')
  })
})
