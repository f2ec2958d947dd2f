import { useEffect } from 'react'
import { StatusOverview } from '@/features/status/components/status-overview'

export function StatusPage() {
  useEffect(() => {
    document.title = 'Status · toy-platform'
  }, [])
  return (
    <div className="stack-lg">
      <div className="page-head">
        <h1>Platform status</h1>
        <p className="muted">Each component's health and the queue, as the middleware sees them.</p>
      </div>
      <StatusOverview />
    </div>
  )
}
