import { screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'
import type { Job, JobList } from '@/types/api'
import { jsonResponse, mockFetch, renderWithProviders, signIn, type FetchCall } from '@/test/utils'
import { JOBS_REFRESH_MS, jobsQueryKey, jobsRefetchInterval } from '../api/get-jobs'
import { JobsList } from './jobs-list'

function job(n: number, status: Job['status']): Job {
  return {
    job_id: `job-${n}`,
    job_name: `job ${n}`,
    owner: 'alice',
    status,
    created_at: '2026-01-01T10:00:00Z',
    started_at: null,
    completed_at: status === 'succeeded' || status === 'failed' || status === 'cancelled' ? '2026-01-01T10:00:03Z' : null,
    result: status === 'succeeded' ? 'olleh' : null,
    error: status === 'failed' ? 'boom' : null,
    request_id: null,
    attempt: 1,
    job_type: 'reverse',
    progress: null,
    cancel_requested: false,
  }
}

function page(jobs: Job[], total: number, nextBefore: string | null = null): JobList {
  // With `before` the middleware answers offset 0: the list must not rely on it.
  return { jobs, total, limit: 20, offset: 0, next_before: nextBefore }
}

/** Jobs FROM, FROM-1, … (newest first), COUNT of them. */
function jobs(from: number, count: number): Job[] {
  return Array.from({ length: count }, (_, i) => job(from - i, 'succeeded'))
}

function params(call: FetchCall | undefined): URLSearchParams {
  return new URL(call!.url).searchParams
}

/**
 * 45 jobs (45 … 1), 20 a page, as the middleware pages them by cursor: the
 * cursor of a full page is its last job's number, none after the last page.
 */
function keysetPages(call: FetchCall): Response {
  const before = params(call).get('before')
  if (before === null) return jsonResponse(200, page(jobs(45, 20), 45, '26'))
  if (before === '26') return jsonResponse(200, page(jobs(25, 20), 45, '6'))
  if (before === '6') return jsonResponse(200, page(jobs(5, 5), 45))
  return jsonResponse(400, { error: `unexpected before=${before}`, code: 'invalid' })
}

function listCalls(calls: FetchCall[]): FetchCall[] {
  return calls.filter((c) => c.method === 'GET' && new URL(c.url).pathname === '/list_jobs')
}

describe('JobsList', () => {
  it('has a friendly empty state', async () => {
    signIn()
    mockFetch(() => jsonResponse(200, page([], 0)))
    renderWithProviders(<JobsList />)
    expect(await screen.findByText('No jobs yet — submit one above')).toBeInTheDocument()
  })

  it('shows jobs with their status, result or error', async () => {
    signIn()
    mockFetch(() => jsonResponse(200, page([job(2, 'succeeded'), job(1, 'failed')], 2)))
    renderWithProviders(<JobsList />)
    const row = (await screen.findByRole('link', { name: 'job 1' })).closest('tr')!
    expect(within(row).getByText('Failed')).toBeInTheDocument()
    expect(within(row).getByText('boom')).toBeInTheDocument()
    expect(within(row).getByRole('button', { name: 'Retry job 1' })).toBeInTheDocument()
    expect(screen.getByText('olleh')).toBeInTheDocument()
    expect(screen.getByText('1–2 of 2')).toBeInTheDocument()
    expect(screen.getByRole('button', { name: 'Previous' })).toBeDisabled()
    expect(screen.getByRole('button', { name: 'Next' })).toBeDisabled()
  })

  it('pages by cursor: Next sends the page’s next_before, never an offset; Previous goes back', async () => {
    signIn()
    const calls = mockFetch(keysetPages)
    renderWithProviders(<JobsList />)
    const user = userEvent.setup()
    const previous = () => screen.getByRole('button', { name: 'Previous' })
    const next = () => screen.getByRole('button', { name: 'Next' })

    expect(await screen.findByText('1–20 of 45')).toBeInTheDocument()
    expect(screen.getByRole('link', { name: 'job 45' })).toBeInTheDocument()
    expect(params(listCalls(calls)[0]).has('before')).toBe(false)
    expect(previous()).toBeDisabled()
    expect(next()).toBeEnabled()

    await user.click(next())
    expect(await screen.findByText('21–40 of 45')).toBeInTheDocument()
    expect(screen.getByRole('link', { name: 'job 25' })).toBeInTheDocument()
    expect(params(listCalls(calls).at(-1)).get('before')).toBe('26')
    expect(previous()).toBeEnabled()

    await user.click(next())
    expect(await screen.findByText('41–45 of 45')).toBeInTheDocument()
    expect(screen.getByRole('link', { name: 'job 1' })).toBeInTheDocument()
    expect(params(listCalls(calls).at(-1)).get('before')).toBe('6')
    expect(next()).toBeDisabled()

    await user.click(previous())
    expect(await screen.findByText('21–40 of 45')).toBeInTheDocument()
    expect(screen.getByRole('link', { name: 'job 25' })).toBeInTheDocument()
    await waitFor(() => expect(params(listCalls(calls).at(-1)).get('before')).toBe('26'))

    await user.click(previous())
    expect(await screen.findByText('1–20 of 45')).toBeInTheDocument()
    expect(screen.getByRole('link', { name: 'job 45' })).toBeInTheDocument()
    expect(previous()).toBeDisabled()

    for (const call of listCalls(calls)) expect(params(call).has('offset')).toBe(false)
  })

  it('keeps the range of the rows on screen while the next page loads, and Next waits for it', async () => {
    signIn()
    let release = () => {}
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    mockFetch(async (call) => {
      if (params(call).get('before') === '26') await held
      return keysetPages(call)
    })
    renderWithProviders(<JobsList />)
    const user = userEvent.setup()
    await user.click(await screen.findByRole('button', { name: 'Next' }))
    // Page 1's rows are still shown: their range, and no second Next on page 1's cursor.
    expect(screen.getByText('1–20 of 45')).toBeInTheDocument()
    expect(screen.getByRole('link', { name: 'job 45' })).toBeInTheDocument()
    expect(screen.getByRole('button', { name: 'Next' })).toBeDisabled()
    release()
    expect(await screen.findByText('21–40 of 45')).toBeInTheDocument()
    expect(screen.getByRole('button', { name: 'Next' })).toBeEnabled()
  })

  it('goes back to the first page when the status filter changes', async () => {
    signIn()
    const calls = mockFetch((call) =>
      params(call).get('status') === 'failed' ? jsonResponse(200, page([job(9, 'failed')], 1)) : keysetPages(call),
    )
    renderWithProviders(<JobsList />)
    const user = userEvent.setup()
    await user.click(await screen.findByRole('button', { name: 'Next' }))
    expect(await screen.findByText('21–40 of 45')).toBeInTheDocument()

    await user.selectOptions(screen.getByLabelText('Status'), 'failed')
    expect(await screen.findByText('1–1 of 1')).toBeInTheDocument()
    const last = params(listCalls(calls).at(-1))
    expect(last.get('status')).toBe('failed')
    expect(last.has('before')).toBe(false)
    expect(screen.getByRole('button', { name: 'Previous' })).toBeDisabled()
  })

  it('offers the first page when a deep page has become empty', async () => {
    signIn()
    let reset = false
    const calls = mockFetch((call) => {
      if (!reset) return keysetPages(call)
      return jsonResponse(200, page([], 0))
    })
    renderWithProviders(<JobsList />)
    const user = userEvent.setup()
    await user.click(await screen.findByRole('button', { name: 'Next' }))
    expect(await screen.findByText('21–40 of 45')).toBeInTheDocument()
    await user.click(screen.getByRole('button', { name: 'Next' }))
    expect(await screen.findByText('41–45 of 45')).toBeInTheDocument()

    // Every job is deleted (a reset); Previous lands on a page that is now empty.
    reset = true
    await user.click(screen.getByRole('button', { name: 'Previous' }))
    expect(await screen.findByText('No jobs here')).toBeInTheDocument()
    expect(screen.getByRole('button', { name: 'Previous' })).toBeEnabled()
    expect(screen.getByRole('button', { name: 'Next' })).toBeDisabled()

    await user.click(screen.getByRole('button', { name: 'First page' }))
    expect(await screen.findByText('No jobs yet — submit one above')).toBeInTheDocument()
    expect(params(listCalls(calls).at(-1)).has('before')).toBe(false)
    expect(screen.queryByRole('button', { name: 'First page' })).not.toBeInTheDocument()
    expect(screen.queryByRole('button', { name: 'Previous' })).not.toBeInTheDocument()
  })

  it('caches each page under its cursor', () => {
    expect(jobsQueryKey({ limit: 20 })).not.toEqual(jobsQueryKey({ limit: 20, before: '26' }))
    expect(jobsQueryKey({ limit: 20, before: '26' })).not.toEqual(jobsQueryKey({ limit: 20, before: '6' }))
    expect(jobsQueryKey({ status: 'failed', limit: 20, before: '26' })).toContain('26')
  })

  it('retries a failed job', async () => {
    signIn()
    const calls = mockFetch((call) =>
      call.method === 'POST' ? jsonResponse(200, job(1, 'queued')) : jsonResponse(200, page([job(1, 'failed')], 1)),
    )
    renderWithProviders(<JobsList />)
    await userEvent.setup().click(await screen.findByRole('button', { name: 'Retry job 1' }))
    expect(calls.some((c) => c.method === 'POST' && c.url === 'http://middleware.test/jobs/job-1/retry')).toBe(true)
  })

  it('filters by status', async () => {
    signIn()
    const calls = mockFetch(() => jsonResponse(200, page([], 0)))
    renderWithProviders(<JobsList />)
    await screen.findByText('No jobs yet — submit one above')
    await userEvent.setup().selectOptions(screen.getByLabelText('Status'), 'failed')
    expect(await screen.findByText('No failed jobs here')).toBeInTheDocument()
    expect(calls.at(-1)?.url).toContain('status=failed')
  })

  it('polls only while a job on the page is unfinished', () => {
    expect(jobsRefetchInterval(page([job(1, 'queued'), job(2, 'succeeded')], 2))).toBe(JOBS_REFRESH_MS)
    expect(jobsRefetchInterval(page([job(1, 'running')], 1))).toBe(JOBS_REFRESH_MS)
    expect(jobsRefetchInterval(page([job(1, 'failed'), job(2, 'succeeded')], 2))).toBe(false)
    expect(jobsRefetchInterval(undefined)).toBe(false)
  })
})

describe('JobsList: types, progress, cancel and results', () => {
  function withList(jobs: Job[], onPost: (call: FetchCall) => Response = () => jsonResponse(200, jobs[0])) {
    return mockFetch((call) => (call.method === 'POST' ? onPost(call) : jsonResponse(200, page(jobs, jobs.length))))
  }

  it('shows the job type of each job', async () => {
    signIn()
    withList([{ ...job(1, 'succeeded'), job_type: 'wordcount' }])
    renderWithProviders(<JobsList />)
    const row = (await screen.findByRole('link', { name: 'job 1' })).closest('tr')!
    expect(within(row).getByText('wordcount')).toBeInTheDocument()
  })

  it('shows a running job’s progress as a bar with its message, and an empty one without a report', async () => {
    signIn()
    withList([
      { ...job(1, 'running'), progress: { fraction: 0.42, message: 'page 42 of 100' } },
      { ...job(2, 'running'), progress: null },
    ])
    renderWithProviders(<JobsList />)
    const bar = await screen.findByRole('progressbar', { name: 'Progress of job 1' })
    expect(bar).toHaveAttribute('aria-valuenow', '42')
    expect(bar.querySelector('.progress-fill')).toHaveStyle({ width: '42%' })
    const row = bar.closest('tr')!
    expect(within(row).getByText('42%')).toBeInTheDocument()
    expect(within(row).getByText('page 42 of 100')).toBeInTheDocument()
    const idle = screen.getByRole('progressbar', { name: 'Progress of job 2' })
    expect(idle).not.toHaveAttribute('aria-valuenow')
    expect(idle).toHaveClass('progress-indeterminate')
  })

  it('cancels a queued or running job and refreshes the list; no Cancel once finished', async () => {
    signIn()
    const calls = withList([job(1, 'queued'), job(2, 'running'), job(3, 'succeeded'), job(4, 'failed'), job(5, 'cancelled')], () =>
      jsonResponse(200, { ...job(2, 'running'), cancel_requested: true }),
    )
    renderWithProviders(<JobsList />)
    expect(await screen.findByRole('button', { name: 'Cancel job 1' })).toBeEnabled()
    expect(screen.queryByRole('button', { name: 'Cancel job 3' })).not.toBeInTheDocument()
    expect(screen.queryByRole('button', { name: 'Cancel job 4' })).not.toBeInTheDocument()
    expect(screen.queryByRole('button', { name: 'Cancel job 5' })).not.toBeInTheDocument()
    const listCalls = calls.filter((c) => c.method === 'GET').length
    await userEvent.setup().click(screen.getByRole('button', { name: 'Cancel job 2' }))
    expect(calls.some((c) => c.method === 'POST' && c.url === 'http://middleware.test/jobs/job-2/cancel')).toBe(true)
    await waitFor(() => expect(calls.filter((c) => c.method === 'GET').length).toBeGreaterThan(listCalls))
  })

  it('says "Cancelling…" while a cancel is being carried out', async () => {
    signIn()
    withList([{ ...job(1, 'running'), cancel_requested: true }])
    renderWithProviders(<JobsList />)
    const button = await screen.findByRole('button', { name: 'Cancel job 1' })
    expect(button).toHaveTextContent('Cancelling…')
    expect(button).toBeDisabled()
  })

  it('shows why a cancel was refused (409)', async () => {
    signIn()
    withList([job(1, 'running')], () =>
      jsonResponse(409, {
        error: 'This job already finished (succeeded); there is nothing to cancel',
        code: 'not_cancellable',
      }),
    )
    renderWithProviders(<JobsList />)
    await userEvent.setup().click(await screen.findByRole('button', { name: 'Cancel job 1' }))
    expect(await screen.findByRole('alert')).toHaveTextContent(
      'This job already finished (succeeded); there is nothing to cancel',
    )
  })

  it('shows a result that is not a string as formatted JSON', async () => {
    signIn()
    withList([{ ...job(1, 'succeeded'), result: { words: 3, top: [['a', 2]] } as unknown as Job['result'] }])
    renderWithProviders(<JobsList />)
    const row = (await screen.findByRole('link', { name: 'job 1' })).closest('tr')!
    const result = row.querySelector('pre[data-format="json"]')!
    expect(result.textContent).toBe(JSON.stringify({ words: 3, top: [['a', 2]] }, null, 2))
  })
})
