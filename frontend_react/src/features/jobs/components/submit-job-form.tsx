import type { ErrorSchema, RJSFSchema } from '@rjsf/utils'
import { useId, useMemo, useRef, useState, type FormEvent, type KeyboardEvent } from 'react'
import { getRuntimeConfig } from '@/config/runtime-config'
import { errorMessage, isApiError } from '@/lib/api-client'
import { formatBytes, randomKey } from '@/lib/format'
import { DEFAULT_JOB_TYPE, type JobType } from '@/types/api'
import { useJobTypes } from '@/lib/job-types'
import { useSubmitJob } from '../api/submit-job'
import {
  dataValidator,
  isAnyJson,
  parseJsonText,
  serverErrorSchema,
  toFormSchema,
  transformDataErrors,
  type DataForm,
  type DataValue,
  type FormValue,
} from './data-schema'
import { JobDataForm } from './job-data-form'
import { JobTypePicker } from './job-type-picker'
import { MAX_JOB_NAME_CHARS, dataBytes, validateJob, type JobFormErrors } from './validate-job'

/** `reverse` as the API describes it, used while the list of types is loading or cannot be read. */
const REVERSE_SCHEMA: RJSFSchema = { type: 'string', minLength: 1 }

/** The value a fresh form starts with: an empty text for a text, else nothing yet. */
function initialData(schema: RJSFSchema): DataValue {
  return schema.type === 'string' ? '' : undefined
}

/** The type to use: the one picked if a worker offers it, else the first one offered. */
function effectiveType(types: JobType[] | undefined, picked: string): JobType | undefined {
  if (types === undefined) return undefined
  const chosen = types.find((type) => type.name === picked)
  if (chosen?.available) return chosen
  return types.find((type) => type.available) ?? chosen
}

export function SubmitJobForm() {
  const id = useId()
  const maxDataBytes = getRuntimeConfig().maxDataBytes
  const jobTypes = useJobTypes()
  const [jobName, setJobName] = useState('')
  const [picked, setPicked] = useState(DEFAULT_JOB_TYPE)
  const type = effectiveType(jobTypes.data?.job_types, picked)
  const jobType = type?.name ?? DEFAULT_JOB_TYPE
  const inputSchema = type?.input_schema
  const anyJson = isAnyJson(inputSchema)
  const schema = useMemo(() => (inputSchema === undefined ? REVERSE_SCHEMA : toFormSchema(inputSchema)), [inputSchema])
  // The data belongs to the type it was entered for; another type starts afresh.
  const [entered, setEntered] = useState<{ jobType: string; value: DataValue } | null>(null)
  const data = entered !== null && entered.jobType === jobType ? entered.value : initialData(schema)
  const [errors, setErrors] = useState<JobFormErrors>({})
  const [typeError, setTypeError] = useState<string | null>(null)
  const [dataServerErrors, setDataServerErrors] = useState<ErrorSchema<FormValue> | undefined>(undefined)
  const [liveValidate, setLiveValidate] = useState(false)
  const [formError, setFormError] = useState<string | null>(null)
  const [submitted, setSubmitted] = useState<string | null>(null)
  const idempotencyKey = useRef<string | null>(null)
  const nameInput = useRef<HTMLInputElement>(null)
  const dataForm = useRef<DataForm>(null)
  const submit = useSubmitJob()

  function changed() {
    // A different job gets a different key: only a repeat of the same one is a replay.
    idempotencyKey.current = null
    setSubmitted(null)
  }

  function changeData(value: DataValue) {
    if (JSON.stringify(value) === JSON.stringify(data)) return
    setEntered({ jobType, value })
    changed()
    setDataServerErrors(undefined)
    if (errors.data) setErrors({ ...errors, data: undefined })
  }

  function pickType(name: string) {
    setPicked(name)
    setEntered(null)
    setTypeError(null)
    setDataServerErrors(undefined)
    setLiveValidate(false)
    setErrors({ ...errors, data: undefined })
    changed()
  }

  function handleSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault()
    if (submit.isPending) return
    const found = validateJob({ job_name: jobName, data }, maxDataBytes)
    setErrors(found)
    setTypeError(null)
    setDataServerErrors(undefined)
    setFormError(null)
    setSubmitted(null)
    const dataOk = dataForm.current?.validateForm() ?? true
    if (!dataOk) setLiveValidate(true)
    if (found.job_name) {
      nameInput.current?.focus()
      return
    }
    if (!dataOk) {
      const first = dataValidator.validateFormData(data, schema, undefined, transformDataErrors).errors[0]
      if (first) dataForm.current?.focusOnError(first)
      return
    }
    if (found.data) return
    let value: DataValue = data
    if (anyJson) {
      const parsed = parseJsonText(typeof data === 'string' ? data : '')
      if ('error' in parsed) {
        setDataServerErrors(serverErrorSchema(schema, parsed.error, null))
        return
      }
      value = parsed.value
    }
    // One key per submission: a repeat after a lost answer is not run twice.
    idempotencyKey.current ??= randomKey()
    const name = jobName.trim()
    submit.mutate(
      { job_name: name, job_type: jobType, data: value ?? null, idempotencyKey: idempotencyKey.current },
      {
        onSuccess: () => {
          idempotencyKey.current = null
          setJobName('')
          setEntered(null)
          setErrors({})
          setLiveValidate(false)
          setSubmitted(`Submitted “${name}”`)
          nameInput.current?.focus()
        },
        onError: (error) => {
          if (!isApiError(error)) {
            setFormError(errorMessage(error))
          } else if (error.field === 'job_name') {
            setErrors({ job_name: error.message })
          } else if (error.field === 'job_type') {
            setTypeError(error.message)
          } else if (error.field === 'data') {
            setDataServerErrors(serverErrorSchema(schema, error.message, error.path))
          } else {
            setFormError(errorMessage(error))
          }
        },
      },
    )
  }

  function submitOnCtrlEnter(event: KeyboardEvent<HTMLFormElement>) {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault()
      event.currentTarget.requestSubmit()
    }
  }

  // An empty text box counts as nothing, though its JSON ("") is 2 bytes.
  const bytes = data === '' ? 0 : dataBytes(data)
  const nameError = errors.job_name
  const dataError = errors.data

  return (
    <form
      className="submit-form"
      onSubmit={handleSubmit}
      onKeyDown={submitOnCtrlEnter}
      noValidate
      aria-label="Submit a job"
    >
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
            changed()
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

      {jobTypes.isPending && <p className="muted small type-loading">Loading the job types…</p>}
      {jobTypes.isError && (
        <p className="notice notice-info" role="status">
          Could not load the job types ({errorMessage(jobTypes.error)}); jobs are submitted as{' '}
          <code>{DEFAULT_JOB_TYPE}</code>.
        </p>
      )}
      {jobTypes.isSuccess && (
        <JobTypePicker
          types={jobTypes.data.job_types}
          value={jobType}
          onChange={pickType}
          error={typeError ?? undefined}
          idPrefix={`${id}-type`}
          disabled={submit.isPending}
        />
      )}
      {jobTypes.isError && typeError && <p className="field-error">{typeError}</p>}

      <div className="data-field">
        <JobDataForm
          key={jobType}
          formRef={dataForm}
          schema={schema}
          formData={data}
          onChange={changeData}
          idPrefix={`${id}-data`}
          extraErrors={dataServerErrors}
          liveValidate={liveValidate}
        />
        <p className={`field-hint${bytes > maxDataBytes ? ' over' : ''}`} id={`${id}-data-hint`}>
          {formatBytes(bytes)} of {formatBytes(maxDataBytes)} · Ctrl+Enter submits
        </p>
        {dataError && (
          <p className="field-error" id={`${id}-data-error`} role="alert">
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
