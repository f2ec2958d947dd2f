import { useEffect } from 'react'
import { Link, useParams } from 'react-router-dom'
import { JobDetailView } from '@/features/jobs/components/job-detail'

export function JobPage() {
  const { jobId = '' } = useParams()
  useEffect(() => {
    document.title = 'Job · toy-platform'
  }, [])
  return (
    <div className="stack-lg">
      <Link to="/" className="back-link">
        ← All jobs
      </Link>
      <JobDetailView key={jobId} jobId={jobId} />
    </div>
  )
}
