import { useEffect } from 'react'
import { JobsList } from '@/features/jobs/components/jobs-list'
import { SubmitJobForm } from '@/features/jobs/components/submit-job-form'
import { useSession } from '@/lib/session'

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
        <SubmitJobForm />
      </section>
      <JobsList />
    </div>
  )
}
