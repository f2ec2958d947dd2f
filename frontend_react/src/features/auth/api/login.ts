import { useMutation } from '@tanstack/react-query'
import { apiRequest } from '@/lib/api-client'
import { startSession, type Session } from '@/lib/session'
import type { LoginRequest, LoginResponse } from '@/types/api'

export type LoginInput = LoginRequest

/** POST {authUrl}/login; on success the session starts. */
export async function login(input: LoginInput): Promise<Session> {
  const response = await apiRequest<LoginResponse>('auth', '/login', {
    method: 'POST',
    body: input,
    auth: false,
  })
  return startSession(response)
}

export function useLogin() {
  return useMutation({ mutationFn: login, retry: false })
}
