import { QueryClient } from '@tanstack/react-query'
import { isApiError } from '@/lib/api-client'

/** Retry a failed read once if the service may come back; never for 4xx answers. */
export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: 1_000,
        refetchOnWindowFocus: true,
        retry: (failureCount, error) => {
          if (isApiError(error) && error.kind !== 'network' && error.status < 500) return false
          return failureCount < 1
        },
      },
      mutations: { retry: false },
    },
  })
}
