import { createBrowserRouter, type RouteObject } from 'react-router-dom'
import { AppLayout } from './layout'
import { RequireAuth } from './require-auth'
import { DashboardPage } from './routes/dashboard-page'
import { JobPage } from './routes/job-page'
import { LoginPage } from './routes/login-page'
import { NotFoundPage } from './routes/not-found-page'
import { StatusPage } from './routes/status-page'

export const routes: RouteObject[] = [
  { path: '/login', element: <LoginPage /> },
  {
    element: <RequireAuth />,
    children: [
      {
        element: <AppLayout />,
        children: [
          { index: true, element: <DashboardPage /> },
          { path: 'jobs/:jobId', element: <JobPage /> },
          { path: 'status', element: <StatusPage /> },
          { path: '*', element: <NotFoundPage /> },
        ],
      },
    ],
  },
]

export function createAppRouter() {
  return createBrowserRouter(routes)
}
