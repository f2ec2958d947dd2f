import { screen, waitFor } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'
import { setRuntimeConfig } from '@/config/runtime-config'
import { jsonResponse, mockFetch, renderWithProviders, signIn } from '@/test/utils'
import { SubmitJobForm } from './submit-job-form'

const JOB = {
  job_id: 'j1',
  job_name: 'reverse',
  owner: 'alice',
  status: 'queued',
  created_at: '2026-01-01T10:00:00Z',
  started_at: null,
  completed_at: null,
  result: null,
  error: null,
  request_id: 'r1',
}

describe('SubmitJobForm', () => {
  it('checks the fields before sending anything', async () => {
    signIn()
    const calls = mockFetch(() => jsonResponse(202, { job_id: 'j1', status: 'queued', job: JOB }))
    renderWithProviders(<SubmitJobForm />)
    await userEvent.setup().click(screen.getByRole('button', { name: 'Submit job' }))
    expect(screen.getByText('Give the job a name')).toBeInTheDocument()
    expect(screen.getByText('Enter the data to process')).toBeInTheDocument()
    expect(screen.getByLabelText('Job name')).toHaveAttribute('aria-invalid', 'true')
    expect(calls).toHaveLength(0)
  })

  it('refuses data over the byte limit from the config', async () => {
    setRuntimeConfig({ authUrl: 'http://auth.test', middlewareUrl: 'http://middleware.test', version: 't', maxDataBytes: 8 })
    signIn()
    const calls = mockFetch(() => jsonResponse(202, {}))
    renderWithProviders(<SubmitJobForm />)
    const user = userEvent.setup()
    await user.type(screen.getByLabelText('Job name'), 'big')
    await user.type(screen.getByLabelText('Data'), 'ééééé')
    await user.click(screen.getByRole('button', { name: 'Submit job' }))
    expect(screen.getByText('The data must be at most 8 B (UTF-8)')).toBeInTheDocument()
    expect(calls).toHaveLength(0)
  })

  it('submits, clears the form and refreshes the job lists', async () => {
    signIn()
    const calls = mockFetch(() => jsonResponse(202, { job_id: 'j1', status: 'queued', job: JOB }))
    const { queryClient } = renderWithProviders(<SubmitJobForm />)
    queryClient.setQueryData(['jobs', 'list', 'all', 20, 0], { jobs: [], total: 0, limit: 20, offset: 0 })
    const user = userEvent.setup()
    await user.type(screen.getByLabelText('Job name'), 'reverse')
    await user.type(screen.getByLabelText('Data'), 'hello')
    await user.click(screen.getByRole('button', { name: 'Submit job' }))
    expect(await screen.findByText('Submitted “reverse”')).toBeInTheDocument()
    expect(screen.getByLabelText('Job name')).toHaveValue('')
    expect(screen.getByLabelText('Data')).toHaveValue('')
    expect(calls[0]?.url).toBe('http://middleware.test/job_submit')
    expect(calls[0]?.body).toEqual({ job_name: 'reverse', data: 'hello' })
    expect(calls[0]?.headers['Idempotency-Key']).toBeTruthy()
    expect(queryClient.getQueryState(['jobs', 'list', 'all', 20, 0])?.isInvalidated).toBe(true)
  })

  it("shows the server's error next to the field it names", async () => {
    signIn()
    mockFetch(() => jsonResponse(413, { error: 'data is larger than 1048576 bytes', code: 'too_large', field: 'data' }))
    renderWithProviders(<SubmitJobForm />)
    const user = userEvent.setup()
    await user.type(screen.getByLabelText('Job name'), 'reverse')
    await user.type(screen.getByLabelText('Data'), 'hello')
    await user.click(screen.getByRole('button', { name: 'Submit job' }))
    const message = await screen.findByText('data is larger than 1048576 bytes')
    expect(screen.getByLabelText('Data')).toHaveAttribute('aria-describedby', expect.stringContaining(message.id))
    expect(screen.getByLabelText('Data')).toHaveValue('hello')
  })

  it('shows an error without a field above the form', async () => {
    signIn()
    mockFetch(() => jsonResponse(503, { error: 'The core service is not answering', code: 'core_unavailable' }))
    renderWithProviders(<SubmitJobForm />)
    const user = userEvent.setup()
    await user.type(screen.getByLabelText('Job name'), 'reverse')
    await user.type(screen.getByLabelText('Data'), 'hello')
    await user.click(screen.getByRole('button', { name: 'Submit job' }))
    await waitFor(() =>
      expect(screen.getByRole('alert')).toHaveTextContent('The core service is not answering'),
    )
  })
})
