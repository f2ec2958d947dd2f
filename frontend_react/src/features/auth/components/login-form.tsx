import { useId, useState, type FormEvent } from 'react'
import { errorMessage } from '@/lib/api-client'
import type { Session } from '@/lib/session'
import { useLogin } from '../api/login'

interface LoginFormProps {
  /** Shown above the form, e.g. why the user was signed out. */
  notice?: string | null
  onSignedIn: (session: Session) => void
}

export function LoginForm({ notice = null, onSignedIn }: LoginFormProps) {
  const id = useId()
  const [username, setUsername] = useState('')
  const [password, setPassword] = useState('')
  const [missing, setMissing] = useState<string | null>(null)
  const login = useLogin()

  function handleSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault()
    if (login.isPending) return
    if (username.trim() === '' || password === '') {
      setMissing('Enter your username and password')
      return
    }
    setMissing(null)
    login.mutate(
      { username: username.trim(), password },
      { onSuccess: (session) => onSignedIn(session) },
    )
  }

  const error = missing ?? (login.isError ? errorMessage(login.error) : null)

  return (
    <form className="stack" onSubmit={handleSubmit} noValidate aria-describedby={error ? `${id}-error` : undefined}>
      {notice && !login.isPending && !login.isError && (
        <p className="notice notice-info" role="status">
          {notice}
        </p>
      )}
      {error && (
        <p className="notice notice-error" role="alert" id={`${id}-error`}>
          {error}
        </p>
      )}
      <div className="field">
        <label htmlFor={`${id}-username`}>Username</label>
        <input
          id={`${id}-username`}
          name="username"
          autoComplete="username"
          autoCapitalize="none"
          spellCheck={false}
          autoFocus
          value={username}
          onChange={(event) => setUsername(event.target.value)}
          aria-invalid={error !== null}
        />
      </div>
      <div className="field">
        <label htmlFor={`${id}-password`}>Password</label>
        <input
          id={`${id}-password`}
          name="password"
          type="password"
          autoComplete="current-password"
          value={password}
          onChange={(event) => setPassword(event.target.value)}
          aria-invalid={error !== null}
        />
      </div>
      <button type="submit" className="button button-primary button-block" disabled={login.isPending}>
        {login.isPending ? 'Signing in…' : 'Sign in'}
      </button>
    </form>
  )
}
