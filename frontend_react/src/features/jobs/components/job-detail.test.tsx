import { screen, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'
import { jsonResponse, mockFetch, renderWithProviders, signIn } from '@/test/utils'
import { makeJob } from '@/test/fixtures'
import type { Job, JobDetail } from '@/types/api'
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

  function detail(overrides: Partial<JobDetail> = {}): JobDetail {
    return { ...makeJob({ job_name: 'count', job_type: 'wordcount' }), events: [], ...overrides }
  }

  it('shows the job type, a running job’s progress and a Cancel button that calls the endpoint', async () => {
    signIn()
    const calls = mockFetch((call) =>
      call.method === 'POST'
        ? jsonResponse(200, { ...makeJob({ status: 'running' }), cancel_requested: true } satisfies Job)
        : jsonResponse(200, detail({ status: 'running', progress: { fraction: 0.255, message: 'Counting' } })),
    )
    renderWithProviders(<JobDetailView jobId="j1" />)
    const bar = await screen.findByRole('progressbar', { name: 'Progress' })
    expect(bar).toHaveAttribute('aria-valuenow', '26')
    expect(screen.getByText('26%')).toBeInTheDocument()
    expect(screen.getByText('Counting')).toBeInTheDocument()
    expect(screen.getByText('wordcount')).toBeInTheDocument()
    await userEvent.setup().click(screen.getByRole('button', { name: 'Cancel count' }))
    expect(calls.some((c) => c.method === 'POST' && c.url === 'http://middleware.test/jobs/j1/cancel')).toBe(true)
    expect(await screen.findByRole('button', { name: 'Cancel count' })).toHaveTextContent('Cancelling…')
  })

  it('says why a queued job waits when no worker offers its type', async () => {
    signIn()
    const why = "no worker offers job type 'wordcount' (no Celery worker online offers it): it waits, queued, until one does"
    mockFetch(() => jsonResponse(200, detail({ status: 'queued', waiting_reason: why })))
    renderWithProviders(<JobDetailView jobId="j1" />)
    expect(await screen.findByRole('status')).toHaveTextContent(`Waiting: ${why}.`)
  })

  it('says "Cancelling…" while a cancel is requested, and offers no Cancel once finished', async () => {
    signIn()
    mockFetch(() => jsonResponse(200, detail({ status: 'running', cancel_requested: true })))
    const first = renderWithProviders(<JobDetailView jobId="j1" />)
    const button = await screen.findByRole('button', { name: 'Cancel count' })
    expect(button).toHaveTextContent('Cancelling…')
    expect(button).toBeDisabled()
    first.unmount()

    mockFetch(() => jsonResponse(200, detail({ status: 'cancelled', completed_at: '2026-01-01T10:00:05Z' })))
    renderWithProviders(<JobDetailView jobId="j1" />)
    expect(await screen.findByText('Cancelled', { selector: '.badge' })).toBeInTheDocument()
    expect(screen.queryByRole('button', { name: /Cancel/ })).not.toBeInTheDocument()
    expect(screen.queryByRole('progressbar')).not.toBeInTheDocument()
  })

  it('shows a result that is not a string as pretty-printed JSON', async () => {
    signIn()
    const result = { words: 3, top: [{ word: 'a', count: 2 }] }
    mockFetch(() =>
      jsonResponse(200, detail({ status: 'succeeded', result: result as unknown as Job['result'] })),
    )
    renderWithProviders(<JobDetailView jobId="j1" />)
    const box = await screen.findByText(/"words": 3/)
    expect(box.tagName).toBe('PRE')
    expect(box.textContent).toBe(JSON.stringify(result, null, 2))
  })

  it('names the new steps on the timeline', async () => {
    signIn()
    const at = '2026-01-01T10:00:00Z'
    mockFetch(() =>
      jsonResponse(
        200,
        detail({
          status: 'cancelled',
          events: [
            { at, status: 'attempt_failed', service: 'core', detail: 'boom; retrying in 2 s' },
            { at, status: 'timeout', service: 'core', detail: 'ran past 30 s' },
            { at, status: 'cancel_requested', service: 'middleware', detail: 'by alice' },
            { at, status: 'cancelled', service: 'core', detail: null },
            { at, status: 'reports_held_up', service: 'core', detail: 'middleware not answering' },
          ],
        }),
      ),
    )
    renderWithProviders(<JobDetailView jobId="j1" />)
    const timeline = await screen.findByRole('list')
    const items = within(timeline).getAllByRole('listitem')
    expect(items.map((item) => item.querySelector('strong')?.textContent)).toEqual([
      'Attempt failed (retrying)',
      'Timed out',
      'Cancel requested',
      'Cancelled',
      'Its progress cannot reach the platform',
    ])
    expect(items[0]).toHaveTextContent('boom; retrying in 2 s')
  })
})
