import { describe, expect, it } from 'vitest'
import { validateJob } from './validate-job'

describe('validateJob', () => {
  it('accepts a name and data within the limits', () => {
    expect(validateJob({ job_name: 'reverse', data: 'hello' }, 1024)).toEqual({})
  })

  it('requires both fields', () => {
    const errors = validateJob({ job_name: '  ', data: '' }, 1024)
    expect(errors.job_name).toBe('Give the job a name')
    expect(errors.data).toBe('Enter the data to process')
  })

  it('limits the name to 200 characters, counting code points', () => {
    expect(validateJob({ job_name: 'x'.repeat(200), data: 'd' }, 1024)).toEqual({})
    expect(validateJob({ job_name: '😀'.repeat(200), data: 'd' }, 1024)).toEqual({})
    expect(validateJob({ job_name: 'x'.repeat(201), data: 'd' }, 1024).job_name).toMatch(/at most 200/)
  })

  it('limits the data by UTF-8 bytes, not characters', () => {
    expect(validateJob({ job_name: 'n', data: 'é'.repeat(512) }, 1024)).toEqual({})
    expect(validateJob({ job_name: 'n', data: 'é'.repeat(513) }, 1024).data).toBe(
      'The data must be at most 1.0 KiB (UTF-8)',
    )
  })
})
