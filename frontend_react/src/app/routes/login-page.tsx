import { useEffect, useState } from 'react'
import { Navigate, useLocation, useNavigate } from 'react-router-dom'
import { getRuntimeConfig } from '@/config/runtime-config'
import { LoginForm } from '@/features/auth/components/login-form'
import { peekSessionNotice, takeSessionNotice, useSession } from '@/lib/session'

export function LoginPage() {
  const session = useSession()
  const navigate = useNavigate()
  const location = useLocation()
  const [notice] = useState(peekSessionNotice)
  useEffect(() => {
    takeSessionNotice()
    document.title = 'Sign in · toy-platform'
  }, [])

  const from = (location.state as { from?: string } | null)?.from
  const target = from && from !== '/login' ? from : '/'
  if (session !== null) return <Navigate to={target} replace />

  return (
    <div className="login-shell">
      <main className="login-card card" id="main">
        <div className="login-brand">
          <span className="brand-mark" aria-hidden="true">
            T
          </span>
          <span>toy-platform</span>
        </div>
        <h1>Sign in</h1>
        <p className="muted">Submit jobs and watch them run.</p>
        <LoginForm notice={notice} onSignedIn={() => navigate(target, { replace: true })} />
      </main>
      <p className="login-footer muted small">Version {getRuntimeConfig().version}</p>
    </div>
  )
}
