import { screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'
import { setRuntimeConfig } from '@/config/runtime-config'
import { REVERSE_TYPE, WORDCOUNT_TYPE, jobTypes, makeJob } from '@/test/fixtures'
import { jsonResponse, mockFetch, renderWithProviders, signIn, type FetchCall } from '@/test/utils'
import type { JobTypeList } from '@/types/api'
import { SubmitJobForm } from './submit-job-form'

const JOB = makeJob()

/** A middleware that lists TYPES and answers a submit with SUBMIT. */
function middleware(submit: (call: FetchCall) => Response, types: JobTypeList = jobTypes()) {
  const calls = mockFetch((call) => {
    if (call.url === 'http://middleware.test/job_types') return jsonResponse(200, types)
    return submit(call)
  })
  return { calls, submits: () => calls.filter((c) => c.url === 'http://middleware.test/job_submit') }
}

const accepted = () => jsonResponse(202, { job_id: 'j1', status: 'queued', job: JOB })

async function renderForm() {
  const rendered = renderWithProviders(<SubmitJobForm />)
  await screen.findByRole('group', { name: 'Job type' })
  return rendered
}

describe('SubmitJobForm', () => {
  it('checks the fields before sending anything', async () => {
    signIn()
    const { submits } = middleware(accepted)
    await renderForm()
    await userEvent.setup().click(screen.getByRole('button', { name: 'Submit job' }))
    expect(screen.getByText('Give the job a name')).toBeInTheDocument()
    expect(await screen.findByText('Enter the data to process')).toBeInTheDocument()
    expect(screen.getByLabelText('Job name')).toHaveAttribute('aria-invalid', 'true')
    expect(submits()).toHaveLength(0)
  })

  it('refuses data over the byte limit from the config', async () => {
    setRuntimeConfig({ authUrl: 'http://auth.test', middlewareUrl: 'http://middleware.test', version: 't', maxDataBytes: 8 })
    signIn()
    const { submits } = middleware(accepted)
    await renderForm()
    const user = userEvent.setup()
    await user.type(screen.getByLabelText('Job name'), 'big')
    await user.type(screen.getByLabelText('Data'), 'ééééé')
    await user.click(screen.getByRole('button', { name: 'Submit job' }))
    expect(screen.getByText('The data must be at most 8 B (as JSON, UTF-8)')).toBeInTheDocument()
    expect(submits()).toHaveLength(0)
  })

  it('submits, clears the form and refreshes the job lists', async () => {
    signIn()
    const { submits } = middleware(accepted)
    const { queryClient } = await renderForm()
    queryClient.setQueryData(['jobs', 'list', 'all', 20, 0], { jobs: [], total: 0, limit: 20, offset: 0 })
    const user = userEvent.setup()
    await user.type(screen.getByLabelText('Job name'), 'reverse')
    await user.type(screen.getByLabelText('Data'), 'hello')
    await user.click(screen.getByRole('button', { name: 'Submit job' }))
    expect(await screen.findByText('Submitted “reverse”')).toBeInTheDocument()
    expect(screen.getByLabelText('Job name')).toHaveValue('')
    expect(screen.getByLabelText('Data')).toHaveValue('')
    expect(submits()).toHaveLength(1)
    expect(submits()[0]?.body).toEqual({ job_name: 'reverse', job_type: 'reverse', data: 'hello' })
    expect(submits()[0]?.headers['Idempotency-Key']).toBeTruthy()
    expect(queryClient.getQueryState(['jobs', 'list', 'all', 20, 0])?.isInvalidated).toBe(true)
  })

  it('sends the same Idempotency-Key again when the same job is resubmitted after an error', async () => {
    signIn()
    let first = true
    const { submits } = middleware(() => {
      if (first) {
        first = false
        return jsonResponse(503, { error: 'The job store cannot be used right now', code: 'store_unavailable' })
      }
      return accepted()
    })
    await renderForm()
    const user = userEvent.setup()
    await user.type(screen.getByLabelText('Job name'), 'reverse')
    await user.type(screen.getByLabelText('Data'), 'hello')
    await user.click(screen.getByRole('button', { name: 'Submit job' }))
    await screen.findByRole('alert')
    await user.click(screen.getByRole('button', { name: 'Submit job' }))
    await screen.findByText('Submitted “reverse”')
    const [a, b] = submits()
    expect(a?.headers['Idempotency-Key']).toBeTruthy()
    expect(b?.headers['Idempotency-Key']).toBe(a?.headers['Idempotency-Key'])
  })

  it("shows the server's error next to the field it names", async () => {
    signIn()
    middleware(() =>
      jsonResponse(413, { error: 'data is larger than 1048576 bytes', code: 'too_large', field: 'data' }),
    )
    await renderForm()
    const user = userEvent.setup()
    await user.type(screen.getByLabelText('Job name'), 'reverse')
    await user.type(screen.getByLabelText('Data'), 'hello')
    await user.click(screen.getByRole('button', { name: 'Submit job' }))
    const message = await screen.findByText('data is larger than 1048576 bytes')
    const errorBox = message.closest('[id]')!
    expect(screen.getByLabelText('Data')).toHaveAttribute('aria-describedby', expect.stringContaining(errorBox.id))
    expect(screen.getByLabelText('Data')).toHaveValue('hello')
  })

  it('shows an error without a field above the form', async () => {
    signIn()
    middleware(() => jsonResponse(503, { error: 'The core service is not answering', code: 'core_unavailable' }))
    await renderForm()
    const user = userEvent.setup()
    await user.type(screen.getByLabelText('Job name'), 'reverse')
    await user.type(screen.getByLabelText('Data'), 'hello')
    await user.click(screen.getByRole('button', { name: 'Submit job' }))
    await waitFor(() => expect(screen.getByRole('alert')).toHaveTextContent('The core service is not answering'))
  })
})

describe('SubmitJobForm: job types', () => {
  it('lists the types, reverse picked, and one no worker offers disabled with the reason', async () => {
    signIn()
    middleware(accepted)
    await renderForm()
    const reverse = screen.getByRole('radio', { name: /Reverse a text/ })
    expect(reverse).toBeChecked()
    expect(screen.getByRole('radio', { name: /Count words/ })).toBeEnabled()
    const resize = screen.getByRole('radio', { name: /Resize an image/ })
    expect(resize).toBeDisabled()
    expect(resize).toHaveAccessibleDescription('Unavailable: No running worker offers it (last offered by gpu-1)')
  })

  it('generates the form from the schema and blocks the submit until the required field is filled', async () => {
    signIn()
    const { submits } = middleware(accepted)
    await renderForm()
    const user = userEvent.setup()
    await user.click(screen.getByRole('radio', { name: /Count words/ }))
    expect(screen.queryByLabelText('Data')).not.toBeInTheDocument()
    const data = screen.getByRole('group', { name: 'Data' })
    expect(within(data).getByLabelText(/Text/)).toBeInTheDocument()
    expect(within(data).getByLabelText(/Top words/)).toBeInTheDocument()

    await user.type(screen.getByLabelText('Job name'), 'count')
    await user.click(screen.getByRole('button', { name: 'Submit job' }))
    expect(await within(data).findByText('Fill this in')).toBeInTheDocument()
    expect(submits()).toHaveLength(0)

    await user.type(within(data).getByLabelText(/Text/), 'a b a')
    await user.type(within(data).getByLabelText(/Top words/), '2')
    expect(within(data).queryByText('Fill this in')).not.toBeInTheDocument()
    await user.click(screen.getByRole('button', { name: 'Submit job' }))
    await screen.findByText('Submitted “count”')
    expect(submits()[0]?.body).toEqual({ job_name: 'count', job_type: 'wordcount', data: { text: 'a b a', top: 2 } })
  })

  it("shows the server's invalid_data error on the field its path names, with the path", async () => {
    signIn()
    middleware(() =>
      jsonResponse(422, {
        error: "3 is not of type 'string'",
        code: 'invalid_data',
        field: 'data',
        path: '$.text',
      }),
    )
    await renderForm()
    const user = userEvent.setup()
    await user.click(screen.getByRole('radio', { name: /Count words/ }))
    await user.type(screen.getByLabelText('Job name'), 'count')
    await user.type(screen.getByLabelText(/Text/), 'hello')
    await user.click(screen.getByRole('button', { name: 'Submit job' }))
    const message = await screen.findByText("3 is not of type 'string' (at $.text)")
    expect(screen.getByLabelText(/Text/)).toHaveAttribute('aria-describedby', expect.stringContaining(message.closest('[id]')!.id))
  })

  it("shows the server's unknown_job_type error at the picker", async () => {
    signIn()
    middleware(() =>
      jsonResponse(422, { error: "No job type 'reverse'; known: wordcount", code: 'unknown_job_type', field: 'job_type' }),
    )
    await renderForm()
    const user = userEvent.setup()
    await user.type(screen.getByLabelText('Job name'), 'r')
    await user.type(screen.getByLabelText('Data'), 'hello')
    await user.click(screen.getByRole('button', { name: 'Submit job' }))
    const message = await screen.findByText("No job type 'reverse'; known: wordcount")
    expect(screen.getByRole('group', { name: 'Job type' })).toHaveAttribute('aria-describedby', message.id)
  })

  it('falls back to reverse when the types cannot be loaded', async () => {
    signIn()
    const calls = mockFetch((call) =>
      call.url.endsWith('/job_types')
        ? jsonResponse(503, { error: 'The job store cannot be used right now', code: 'store_unavailable' })
        : accepted(),
    )
    renderWithProviders(<SubmitJobForm />)
    expect(await screen.findByText(/Could not load the job types/)).toBeInTheDocument()
    const user = userEvent.setup()
    await user.type(screen.getByLabelText('Job name'), 'r')
    await user.type(screen.getByLabelText('Data'), 'hi')
    await user.click(screen.getByRole('button', { name: 'Submit job' }))
    await screen.findByText('Submitted “r”')
    expect(calls.at(-1)?.body).toEqual({ job_name: 'r', job_type: 'reverse', data: 'hi' })
  })

  it('picks the first offered type when reverse is not offered', async () => {
    signIn()
    middleware(accepted, jobTypes([{ ...REVERSE_TYPE, available: false, reason: 'No worker' }, WORDCOUNT_TYPE]))
    await renderForm()
    expect(screen.getByRole('radio', { name: /Count words/ })).toBeChecked()
    expect(screen.getByRole('radio', { name: /Reverse a text/ })).toBeDisabled()
  })
})

describe('SubmitJobForm: type limits', () => {
  it('says how long a type may run and how often it is retried', async () => {
    signIn()
    middleware(accepted)
    await renderForm()
    expect(screen.getByRole('radio', { name: /Reverse a text/ })).toHaveAccessibleDescription('Times out after 30 s · no retries')
    expect(screen.getByRole('radio', { name: /Count words/ })).toHaveAccessibleDescription('Times out after 1 min 0 s · 2 retries')
  })
})
