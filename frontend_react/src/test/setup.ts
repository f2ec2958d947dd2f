import '@testing-library/jest-dom/vitest'
import { cleanup } from '@testing-library/react'
import { afterEach, beforeEach } from 'vitest'
import { setRuntimeConfig } from '@/config/runtime-config'
import { resetSessionForTests } from '@/lib/session'

beforeEach(() => {
  window.sessionStorage.clear()
  resetSessionForTests()
  setRuntimeConfig({
    authUrl: 'http://auth.test',
    middlewareUrl: 'http://middleware.test',
    version: 'test',
    maxDataBytes: 1024 * 1024,
  })
})

afterEach(() => {
  cleanup()
})
