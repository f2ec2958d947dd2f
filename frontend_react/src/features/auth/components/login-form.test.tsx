import { screen, waitFor } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it, vi } from 'vitest'
import { getSession } from '@/lib/session'
import { fakeJwt, jsonResponse, mockFetch, renderWithProviders } from '@/test/utils'
import { LoginForm } from './login-form'

async function signInAs(username: string, password: string) {
  const user = userEvent.setup()
  await user.type(screen.getByLabelText('Username'), username)
  await user.type(screen.getByLabelText('Password'), `${password}{Enter}`)
}

describe('LoginForm', () => {
  it('signs in with Enter and starts the session', async () => {
    const calls = mockFetch(() =>
      jsonResponse(200, {
        token: fakeJwt({ exp: Math.floor(Date.now() / 1000) + 1800 }),
        token_type: 'Bearer',
        expires_in: 1800,
        username: 'alice',
        role: 'user',
      }),
    )
    const onSignedIn = vi.fn()
    renderWithProviders(<LoginForm onSignedIn={onSignedIn} />)
    await signInAs('alice', 'secret')
    await waitFor(() => expect(onSignedIn).toHaveBeenCalled())
    expect(calls[0]?.url).toBe('http://auth.test/login')
    expect(calls[0]?.body).toEqual({ username: 'alice', password: 'secret' })
    expect(getSession()?.username).toBe('alice')
  })

  it('says so when the password is wrong (401)', async () => {
    mockFetch(() => jsonResponse(401, { error: 'Invalid username or password', code: 'invalid_credentials' }))
    renderWithProviders(<LoginForm onSignedIn={vi.fn()} />)
    await signInAs('alice', 'nope')
    expect(await screen.findByRole('alert')).toHaveTextContent('Invalid username or password')
    expect(getSession()).toBeNull()
  })

  it('says how long to wait when locked out (429)', async () => {
    mockFetch(() =>
      jsonResponse(429, { error: 'Too many attempts', code: 'too_many_attempts', retry_after: 42 }, { 'Retry-After': '42' }),
    )
    renderWithProviders(<LoginForm onSignedIn={vi.fn()} />)
    await signInAs('alice', 'nope')
    expect(await screen.findByRole('alert')).toHaveTextContent('Too many failed attempts, try again in 42 s')
  })

  it('names the auth service when it cannot be reached', async () => {
    mockFetch(() => Promise.reject(new TypeError('Failed to fetch')))
    renderWithProviders(<LoginForm onSignedIn={vi.fn()} />)
    await signInAs('alice', 'secret')
    expect(await screen.findByRole('alert')).toHaveTextContent(
      'The auth service at http://auth.test is not answering',
    )
  })

  it('shows it is working while the request is in flight', async () => {
    let answer: (response: Response) => void = () => {}
    mockFetch(() => new Promise<Response>((resolve) => (answer = resolve)))
    renderWithProviders(<LoginForm onSignedIn={vi.fn()} />)
    await signInAs('alice', 'secret')
    const button = await screen.findByRole('button', { name: 'Signing in…' })
    expect(button).toBeDisabled()
    answer(jsonResponse(401, { error: 'Invalid username or password', code: 'invalid_credentials' }))
    expect(await screen.findByRole('button', { name: 'Sign in' })).toBeEnabled()
  })

  it('asks for both fields before calling the service', async () => {
    const calls = mockFetch(() => jsonResponse(200, {}))
    renderWithProviders(<LoginForm onSignedIn={vi.fn()} />)
    await userEvent.setup().click(screen.getByRole('button', { name: 'Sign in' }))
    expect(screen.getByRole('alert')).toHaveTextContent('Enter your username and password')
    expect(calls).toHaveLength(0)
  })

  it('shows the notice it was given, e.g. an expired session', () => {
    renderWithProviders(<LoginForm notice="Your session has expired, please sign in again" onSignedIn={vi.fn()} />)
    expect(screen.getByRole('status')).toHaveTextContent('Your session has expired, please sign in again')
  })
})
