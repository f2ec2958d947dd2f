import { formatDuration } from '@/lib/format'
import type { JobType } from '@/types/api'

export interface JobTypePickerProps {
  types: JobType[]
  value: string
  onChange: (name: string) => void
  /** The API's error about the job type (422 unknown_job_type). */
  error?: string
  idPrefix: string
  disabled?: boolean
}

function seconds(value: number): string {
  return Number.isInteger(value) && value < 60 ? `${value} s` : formatDuration(value)
}

function limits(type: JobType): string {
  const retries =
    type.max_retries === 0 ? 'no retries' : type.max_retries === 1 ? '1 retry' : `${type.max_retries} retries`
  return `Times out after ${seconds(type.timeout_s)} · ${retries}`
}

/** The job types a submit may name; one no worker offers now is shown, with why, but cannot be picked. */
export function JobTypePicker({ types, value, onChange, error, idPrefix, disabled }: JobTypePickerProps) {
  const errorId = `${idPrefix}-error`
  return (
    <fieldset className="type-picker" aria-describedby={error ? errorId : undefined}>
      <legend>Job type</legend>
      <div className="type-options">
        {types.map((type) => {
          const id = `${idPrefix}-${type.name}`
          const unavailable = !type.available
          return (
            <label
              key={type.name}
              htmlFor={id}
              className={`type-option${type.name === value ? ' selected' : ''}${unavailable ? ' unavailable' : ''}`}
            >
              <input
                type="radio"
                id={id}
                name={`${idPrefix}-job-type`}
                value={type.name}
                checked={type.name === value}
                disabled={disabled || unavailable}
                onChange={() => onChange(type.name)}
                aria-describedby={`${id}-about`}
              />
              <span className="type-text">
                <span className="type-title">
                  {type.title} <code className="type-name">{type.name}</code>
                </span>
                <span className="type-about" id={`${id}-about`}>
                  {unavailable ? `Unavailable: ${type.reason ?? 'no worker offers it now'}` : limits(type)}
                </span>
              </span>
            </label>
          )
        })}
      </div>
      {error && (
        <p className="field-error" id={errorId}>
          {error}
        </p>
      )}
    </fieldset>
  )
}
