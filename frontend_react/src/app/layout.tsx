import { useEffect } from 'react'
import { NavLink, Outlet } from 'react-router-dom'
import { getRuntimeConfig } from '@/config/runtime-config'
import { StatusIndicator } from '@/features/status/components/status-indicator'
import { SESSION_EXPIRED_MESSAGE, endSession, msUntilExpiry, useSession } from '@/lib/session'

/** Ends the session when its token expires, even if no request is made. */
function useExpiryTimer(): void {
  const session = useSession()
  useEffect(() => {
    if (session === null) return
    const timer = window.setTimeout(
      () => endSession(SESSION_EXPIRED_MESSAGE),
      Math.min(msUntilExpiry(session), 2 ** 31 - 1),
    )
    return () => window.clearTimeout(timer)
  }, [session])
}

export function AppLayout() {
  const session = useSession()
  useExpiryTimer()
  return (
    <div className="shell">
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <header className="topbar">
        <div className="topbar-inner">
          <NavLink to="/" className="brand" end>
            <span className="brand-mark" aria-hidden="true">
              T
            </span>
            toy-platform
          </NavLink>
          <nav className="mainnav" aria-label="Main">
            <NavLink to="/" end>
              Jobs
            </NavLink>
            <NavLink to="/status">Status</NavLink>
          </nav>
          <StatusIndicator />
          <div className="user">
            <span className="user-name" title={session?.role === 'admin' ? 'Administrator' : 'Signed in'}>
              {session?.username}
            </span>
            <button type="button" className="button button-ghost" onClick={() => endSession()}>
              Logout
            </button>
          </div>
        </div>
      </header>
      <main id="main" className="content" tabIndex={-1}>
        <Outlet />
      </main>
      <footer className="footer">toy-platform {getRuntimeConfig().version}</footer>
    </div>
  )
}
