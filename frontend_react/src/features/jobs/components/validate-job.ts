import { formatBytes, utf8Length } from '@/lib/format'

export const MAX_JOB_NAME_CHARS = 200

export interface JobFormErrors {
  job_name?: string
  data?: string
}

/** The same rules as the API: job_name 1..200 characters, data 1..limit UTF-8 bytes. */
export function validateJob(
  values: { job_name: string; data: string },
  maxDataBytes: number,
): JobFormErrors {
  const errors: JobFormErrors = {}
  const name = values.job_name.trim()
  if (name === '') {
    errors.job_name = 'Give the job a name'
  } else if ([...name].length > MAX_JOB_NAME_CHARS) {
    errors.job_name = `The name must be at most ${MAX_JOB_NAME_CHARS} characters`
  }
  if (values.data === '') {
    errors.data = 'Enter the data to process'
  } else if (utf8Length(values.data) > maxDataBytes) {
    errors.data = `The data must be at most ${formatBytes(maxDataBytes)} (UTF-8)`
  }
  return errors
}
