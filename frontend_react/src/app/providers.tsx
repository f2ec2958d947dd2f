import { QueryClientProvider, type QueryClient } from '@tanstack/react-query'
import { useEffect, useState, type ReactNode } from 'react'
import { getSession, subscribeSession } from '@/lib/session'
import { createQueryClient } from './query-client'

/** Forget every cached answer when the user signs out or the session ends. */
function useClearCacheOnSignOut(queryClient: QueryClient): void {
  useEffect(() => {
    let signedIn = getSession() !== null
    return subscribeSession(() => {
      const now = getSession() !== null
      if (signedIn && !now) queryClient.clear()
      signedIn = now
    })
  }, [queryClient])
}

export function AppProviders({
  children,
  queryClient: given,
}: {
  children: ReactNode
  queryClient?: QueryClient
}) {
  const [queryClient] = useState(() => given ?? createQueryClient())
  useClearCacheOnSignOut(queryClient)
  return <QueryClientProvider client={queryClient}>{children}</QueryClientProvider>
}
