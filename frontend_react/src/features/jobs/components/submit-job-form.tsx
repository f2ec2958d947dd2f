import { useId, useRef, useState, type FormEvent } from 'react'
import { getRuntimeConfig } from '@/config/runtime-config'
import { errorMessage, isApiError } from '@/lib/api-client'
import { formatBytes, randomKey, utf8Length } from '@/lib/format'
import { useSubmitJob } from '../api/submit-job'
import { MAX_JOB_NAME_CHARS, validateJob, type JobFormErrors } from './validate-job'

export function SubmitJobForm() {
  const id = useId()
  const maxDataBytes = getRuntimeConfig().maxDataBytes
  const [jobName, setJobName] = useState('')
  const [data, setData] = useState('')
  const [errors, setErrors] = useState<JobFormErrors>({})
  const [formError, setFormError] = useState<string | null>(null)
  const [submitted, setSubmitted] = useState<string | null>(null)
  const idempotencyKey = useRef<string | null>(null)
  const nameInput = useRef<HTMLInputElement>(null)
  const dataInput = useRef<HTMLTextAreaElement>(null)
  const submit = useSubmitJob()

  function handleSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault()
    if (submit.isPending) return
    const found = validateJob({ job_name: jobName, data }, maxDataBytes)
    setErrors(found)
    setFormError(null)
    setSubmitted(null)
    if (found.job_name) {
      nameInput.current?.focus()
      return
    }
    if (found.data) {
      dataInput.current?.focus()
      return
    }
    // One key per submission: a repeat after a lost answer is not run twice.
    idempotencyKey.current ??= randomKey()
    const name = jobName.trim()
    submit.mutate(
      { job_name: name, data, idempotencyKey: idempotencyKey.current },
      {
        onSuccess: () => {
          idempotencyKey.current = null
          setJobName('')
          setData('')
          setErrors({})
          setSubmitted(`Submitted “${name}”`)
          nameInput.current?.focus()
        },
        onError: (error) => {
          if (isApiError(error) && (error.field === 'job_name' || error.field === 'data')) {
            setErrors({ [error.field]: error.message })
          } else {
            setFormError(errorMessage(error))
          }
        },
      },
    )
  }

  const bytes = utf8Length(data)
  const nameError = errors.job_name
  const dataError = errors.data

  return (
    <form className="submit-form" onSubmit={handleSubmit} noValidate aria-label="Submit a job">
      {formError && (
        <p className="notice notice-error" role="alert">
          {formError}
        </p>
      )}
      <div className="field">
        <label htmlFor={`${id}-name`}>Job name</label>
        <input
          id={`${id}-name`}
          ref={nameInput}
          name="job_name"
          value={jobName}
          maxLength={MAX_JOB_NAME_CHARS * 2}
          onChange={(event) => {
            setJobName(event.target.value)
            idempotencyKey.current = null
            if (errors.job_name) setErrors({ ...errors, job_name: undefined })
          }}
          aria-invalid={nameError !== undefined}
          aria-describedby={nameError ? `${id}-name-error` : undefined}
          required
        />
        {nameError && (
          <p className="field-error" id={`${id}-name-error`}>
            {nameError}
          </p>
        )}
      </div>
      <div className="field">
        <label htmlFor={`${id}-data`}>Data</label>
        <textarea
          id={`${id}-data`}
          ref={dataInput}
          name="data"
          rows={4}
          value={data}
          onChange={(event) => {
            setData(event.target.value)
            idempotencyKey.current = null
            if (errors.data) setErrors({ ...errors, data: undefined })
          }}
          onKeyDown={(event) => {
            if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
              event.currentTarget.form?.requestSubmit()
            }
          }}
          aria-invalid={dataError !== undefined}
          aria-describedby={`${id}-data-hint${dataError ? ` ${id}-data-error` : ''}`}
          required
        />
        <p className={`field-hint${bytes > maxDataBytes ? ' over' : ''}`} id={`${id}-data-hint`}>
          {formatBytes(bytes)} of {formatBytes(maxDataBytes)} · Ctrl+Enter submits
        </p>
        {dataError && (
          <p className="field-error" id={`${id}-data-error`}>
            {dataError}
          </p>
        )}
      </div>
      <div className="form-actions">
        <button type="submit" className="button button-primary" disabled={submit.isPending}>
          {submit.isPending ? 'Submitting…' : 'Submit job'}
        </button>
        {submitted && (
          <span className="form-success" role="status">
            {submitted}
          </span>
        )}
      </div>
    </form>
  )
}
