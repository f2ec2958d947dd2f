/**
 * The signed-in user's session: the bearer token and who it belongs to, kept
 * in sessionStorage so a reload keeps the tab signed in, and checked against
 * the token's own `exp` so an expired token is never sent.
 */
import { useSyncExternalStore } from 'react'

export interface Session {
  token: string
  username: string
  role: string
  /** When the token stops being valid, in ms since the epoch. */
  expiresAt: number
}

const STORAGE_KEY = 'toy-platform.session'
/** Treat a token as expired this long before its real expiry, for clock skew. */
const EXPIRY_MARGIN_MS = 5_000

export const SESSION_EXPIRED_MESSAGE = 'Your session has expired, please sign in again'

type Listener = () => void
const listeners = new Set<Listener>()
let cached: Session | null | undefined
let notice: string | null = null

function notify(): void {
  for (const listener of listeners) listener()
}

/** The `exp` claim of a JWT in ms since the epoch, or null if it has none. */
export function tokenExpiry(token: string): number | null {
  const payload = token.split('.')[1]
  if (!payload) return null
  try {
    const base64 = payload.replace(/-/g, '+').replace(/_/g, '/')
    const padded = base64 + '='.repeat((4 - (base64.length % 4)) % 4)
    const claims: unknown = JSON.parse(atob(padded))
    if (typeof claims === 'object' && claims !== null && 'exp' in claims) {
      const exp = (claims as { exp: unknown }).exp
      return typeof exp === 'number' ? exp * 1000 : null
    }
  } catch {
    return null
  }
  return null
}

export function isExpired(session: Session, now = Date.now()): boolean {
  return now >= session.expiresAt - EXPIRY_MARGIN_MS
}

function readStorage(): Session | null {
  try {
    const raw = window.sessionStorage.getItem(STORAGE_KEY)
    if (!raw) return null
    const value = JSON.parse(raw) as Partial<Session>
    if (
      typeof value.token !== 'string' ||
      typeof value.username !== 'string' ||
      typeof value.expiresAt !== 'number'
    ) {
      return null
    }
    return {
      token: value.token,
      username: value.username,
      role: typeof value.role === 'string' ? value.role : 'user',
      expiresAt: value.expiresAt,
    }
  } catch {
    return null
  }
}

/**
 * The current session, or null if signed out. Pure (safe to call in render):
 * a stored session found already expired at start-up is dropped here, with a
 * notice for the login page; one that expires later is ended by
 * `getValidSession` or by the app's expiry timer.
 */
export function getSession(): Session | null {
  if (cached === undefined) {
    const stored = readStorage()
    if (stored !== null && isExpired(stored)) {
      try {
        window.sessionStorage.removeItem(STORAGE_KEY)
      } catch {
        // Nothing to forget.
      }
      notice = SESSION_EXPIRED_MESSAGE
      cached = null
    } else {
      cached = stored
    }
  }
  return cached
}

/** The current session if its token is still good; an expired one is ended. */
export function getValidSession(): Session | null {
  const session = getSession()
  if (session !== null && isExpired(session)) {
    endSession(SESSION_EXPIRED_MESSAGE)
    return null
  }
  return session
}

/** Milliseconds until the session must be treated as expired. */
export function msUntilExpiry(session: Session, now = Date.now()): number {
  return Math.max(0, session.expiresAt - EXPIRY_MARGIN_MS - now)
}

/** Start a session from what the auth service's /login answered. */
export function startSession(login: {
  token: string
  username: string
  role: string
  expires_in: number
}): Session {
  const fromTtl = Date.now() + login.expires_in * 1000
  const fromToken = tokenExpiry(login.token)
  const session: Session = {
    token: login.token,
    username: login.username,
    role: login.role,
    expiresAt: fromToken === null ? fromTtl : Math.min(fromTtl, fromToken),
  }
  try {
    window.sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session))
  } catch {
    // Private mode or full storage: the session still lives for this page.
  }
  cached = session
  notice = null
  notify()
  return session
}

/** Forget the token; `message`, if given, is shown once on the login page. */
export function endSession(message: string | null = null): void {
  try {
    window.sessionStorage.removeItem(STORAGE_KEY)
  } catch {
    // Nothing stored, nothing to forget.
  }
  const wasSignedIn = cached !== null
  cached = null
  if (message !== null) notice = message
  if (wasSignedIn || message !== null) notify()
}

/** The message left by the last endSession, read once. */
export function takeSessionNotice(): string | null {
  const message = notice
  notice = null
  return message
}

export function peekSessionNotice(): string | null {
  return notice
}

export function subscribeSession(listener: Listener): () => void {
  listeners.add(listener)
  return () => {
    listeners.delete(listener)
  }
}

/** The current session as React state. */
export function useSession(): Session | null {
  return useSyncExternalStore(subscribeSession, getSession, () => null)
}

/** For tests: forget everything held in memory. */
export function resetSessionForTests(): void {
  cached = undefined
  notice = null
  listeners.clear()
}
