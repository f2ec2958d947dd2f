import { Link } from 'react-router-dom'

export function NotFoundPage() {
  return (
    <div className="card">
      <h1>Page not found</h1>
      <p>
        There is nothing here. <Link to="/">Go to your jobs</Link>.
      </p>
    </div>
  )
}
