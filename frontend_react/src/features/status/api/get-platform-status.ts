import { useQuery } from '@tanstack/react-query'
import { apiRequest } from '@/lib/api-client'
import type { PlatformStatus } from '@/types/api'

export const STATUS_REFRESH_MS = 3_000

export const platformStatusKey = ['platform-status'] as const

/** GET /platform_status: every component's health plus the queue's numbers. */
export function getPlatformStatus(signal?: AbortSignal): Promise<PlatformStatus> {
  return apiRequest<PlatformStatus>('middleware', '/platform_status', { signal })
}

export function usePlatformStatus() {
  return useQuery({
    queryKey: platformStatusKey,
    queryFn: ({ signal }) => getPlatformStatus(signal),
    refetchInterval: STATUS_REFRESH_MS,
    refetchIntervalInBackground: false,
    // Show an outage at once rather than after retries.
    retry: false,
  })
}
