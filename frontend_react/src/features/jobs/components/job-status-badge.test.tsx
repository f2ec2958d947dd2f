import { render, screen } from '@testing-library/react'
import { describe, expect, it } from 'vitest'
import { JobStatusBadge } from './job-status-badge'

describe('JobStatusBadge', () => {
  it.each([
    ['queued', 'Queued'],
    ['running', 'Running'],
    ['succeeded', 'Succeeded'],
    ['failed', 'Failed'],
    ['cancelled', 'Cancelled'],
  ] as const)('shows %s as "%s" with its own colour class', (status, label) => {
    render(<JobStatusBadge status={status} />)
    const badge = screen.getByText(label)
    expect(badge).toHaveClass('badge', `badge-${status}`)
  })
})
