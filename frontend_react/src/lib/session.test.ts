import { describe, expect, it } from 'vitest'
import { fakeJwt } from '@/test/utils'
import {
  SESSION_EXPIRED_MESSAGE,
  endSession,
  getSession,
  peekSessionNotice,
  resetSessionForTests,
  startSession,
  tokenExpiry,
} from './session'

describe('session', () => {
  it('reads exp from a JWT', () => {
    expect(tokenExpiry(fakeJwt({ exp: 1700000000 }))).toBe(1700000000 * 1000)
    expect(tokenExpiry('not-a-jwt')).toBeNull()
  })

  it('keeps the session in sessionStorage across a reload', () => {
    const exp = Math.floor(Date.now() / 1000) + 600
    startSession({ token: fakeJwt({ exp }), username: 'alice', role: 'user', expires_in: 1800 })
    expect(getSession()?.expiresAt).toBe(exp * 1000)
    resetSessionForTests() // as after a reload
    expect(getSession()?.username).toBe('alice')
  })

  it('drops a stored session that expired while the tab was away', () => {
    const exp = Math.floor(Date.now() / 1000) - 10
    window.sessionStorage.setItem(
      'toy-platform.session',
      JSON.stringify({ token: fakeJwt({ exp }), username: 'alice', role: 'user', expiresAt: exp * 1000 }),
    )
    expect(getSession()).toBeNull()
    expect(peekSessionNotice()).toBe(SESSION_EXPIRED_MESSAGE)
  })

  it('forgets the token on logout', () => {
    startSession({ token: fakeJwt({}), username: 'alice', role: 'user', expires_in: 1800 })
    endSession()
    expect(getSession()).toBeNull()
    expect(window.sessionStorage.getItem('toy-platform.session')).toBeNull()
    expect(peekSessionNotice()).toBeNull()
  })
})
