import { Navigate, Outlet, useLocation } from 'react-router-dom'
import { useSession } from '@/lib/session'

/** Routes below need a session; without one, go to /login and come back after. */
export function RequireAuth() {
  const session = useSession()
  const location = useLocation()
  if (session === null) {
    return <Navigate to="/login" replace state={{ from: location.pathname + location.search }} />
  }
  return <Outlet />
}
