import { describe, expect, it } from 'vitest'
import { DEFAULT_MAX_DATA_BYTES, parseRuntimeConfig } from './runtime-config'

describe('parseRuntimeConfig', () => {
  it('reads the URLs and the version, without trailing slashes', () => {
    expect(
      parseRuntimeConfig({ authUrl: 'http://127.0.0.1:6300/', middlewareUrl: 'http://127.0.0.1:6302', version: '0.1.0' }),
    ).toEqual({
      authUrl: 'http://127.0.0.1:6300',
      middlewareUrl: 'http://127.0.0.1:6302',
      version: '0.1.0',
      maxDataBytes: DEFAULT_MAX_DATA_BYTES,
    })
  })

  it('resolves same-origin paths (the dev proxy) against the page', () => {
    const config = parseRuntimeConfig({ authUrl: '/_auth', middlewareUrl: '/_middleware', maxDataBytes: 10 })
    expect(config.authUrl).toBe(`${window.location.origin}/_auth`)
    expect(config.maxDataBytes).toBe(10)
  })

  it('refuses a config without the service URLs', () => {
    expect(() => parseRuntimeConfig({ middlewareUrl: 'http://x' })).toThrow('config.json has no authUrl')
    expect(() => parseRuntimeConfig(null)).toThrow()
  })
})
