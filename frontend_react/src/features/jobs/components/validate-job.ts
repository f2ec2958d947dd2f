import { formatBytes, utf8Length } from '@/lib/format'
import type { JsonValue } from '@/types/api'

export const MAX_JOB_NAME_CHARS = 200

export interface JobFormErrors {
  job_name?: string
  data?: string
}

/** The size of DATA as the API counts it: its JSON text in UTF-8. */
export function dataBytes(data: JsonValue | undefined): number {
  return data === undefined ? 0 : utf8Length(JSON.stringify(data))
}

/**
 * The API's rules that are not in the type's input schema: job_name 1..200
 * characters and not only spaces, data at most the limit (as JSON, in UTF-8
 * bytes). Whether the data itself is right is the schema's to say.
 */
export function validateJob(
  values: { job_name: string; data: JsonValue | undefined },
  maxDataBytes: number,
): JobFormErrors {
  const errors: JobFormErrors = {}
  const name = values.job_name.trim()
  if (name === '') {
    errors.job_name = 'Give the job a name'
  } else if ([...name].length > MAX_JOB_NAME_CHARS) {
    errors.job_name = `The name must be at most ${MAX_JOB_NAME_CHARS} characters`
  }
  if (dataBytes(values.data) > maxDataBytes) {
    errors.data = `The data must be at most ${formatBytes(maxDataBytes)} (as JSON, UTF-8)`
  }
  return errors
}
