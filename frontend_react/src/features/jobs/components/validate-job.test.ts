import { describe, expect, it } from 'vitest'
import { dataBytes, validateJob } from './validate-job'

describe('validateJob', () => {
  it('accepts a name and data within the limits', () => {
    expect(validateJob({ job_name: 'reverse', data: 'hello' }, 1024)).toEqual({})
    expect(validateJob({ job_name: 'count', data: { text: 'a b', top: 3 } }, 1024)).toEqual({})
  })

  it('requires a name that is not only spaces', () => {
    expect(validateJob({ job_name: '  ', data: 'x' }, 1024).job_name).toBe('Give the job a name')
  })

  it('limits the name to 200 characters, counting code points', () => {
    expect(validateJob({ job_name: 'x'.repeat(200), data: 'd' }, 1024)).toEqual({})
    expect(validateJob({ job_name: '😀'.repeat(200), data: 'd' }, 1024)).toEqual({})
    expect(validateJob({ job_name: 'x'.repeat(201), data: 'd' }, 1024).job_name).toMatch(/at most 200/)
  })

  it('limits the data by the UTF-8 bytes of its JSON, not by characters', () => {
    expect(dataBytes('é')).toBe(4) // "é" with its quotes
    expect(dataBytes({ a: 1 })).toBe(7)
    expect(dataBytes(undefined)).toBe(0)
    expect(validateJob({ job_name: 'n', data: 'é'.repeat(511) }, 1024)).toEqual({})
    expect(validateJob({ job_name: 'n', data: 'é'.repeat(512) }, 1024).data).toBe(
      'The data must be at most 1.0 KiB (as JSON, UTF-8)',
    )
  })
})
