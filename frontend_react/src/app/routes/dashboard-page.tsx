import { Suspense, lazy, useEffect } from 'react'
import { JobsList } from '@/features/jobs/components/jobs-list'
import { useSession } from '@/lib/session'

// The submit form brings the JSON Schema form and validator (react-jsonschema-form,
// Ajv): a chunk of its own, so the login page and the job pages load without them.
const SubmitJobForm = lazy(() =>
  import('@/features/jobs/components/submit-job-form').then((module) => ({ default: module.SubmitJobForm })),
)

export function DashboardPage() {
  const session = useSession()
  useEffect(() => {
    document.title = 'Jobs · toy-platform'
  }, [])
  return (
    <div className="stack-lg">
      <div className="page-head">
        <h1>Hi {session?.username}</h1>
        <p className="muted">Submit a job and follow it until it is done.</p>
      </div>
      <section className="card" aria-labelledby="submit-title">
        <h2 id="submit-title">Submit a job</h2>
        <Suspense fallback={<p className="muted">Loading the form…</p>}>
          <SubmitJobForm />
        </Suspense>
      </section>
      <JobsList />
    </div>
  )
}
