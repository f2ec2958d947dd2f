/**
 * Runtime configuration: fetched once from /config.json on the app's own
 * origin at start-up, so one build runs against any backend.
 */

export interface RuntimeConfig {
  authUrl: string
  middlewareUrl: string
  version: string
  /** The API's limit on a job's data, in UTF-8 bytes. */
  maxDataBytes: number
}

export const DEFAULT_MAX_DATA_BYTES = 1024 * 1024

const DEV_FALLBACK: RuntimeConfig = {
  authUrl: 'http://127.0.0.1:6300',
  middlewareUrl: 'http://127.0.0.1:6302',
  version: 'dev',
  maxDataBytes: DEFAULT_MAX_DATA_BYTES,
}

let current: RuntimeConfig | null = null

/** Absolute, without a trailing slash; a path like "/_auth" is on this page's origin. */
function normaliseUrl(url: string): string {
  return new URL(url, window.location.origin).toString().replace(/\/+$/, '')
}

/** Check and normalise what /config.json said. */
export function parseRuntimeConfig(raw: unknown): RuntimeConfig {
  if (typeof raw !== 'object' || raw === null) {
    throw new Error('config.json is not a JSON object')
  }
  const value = raw as Record<string, unknown>
  const authUrl = value.authUrl
  const middlewareUrl = value.middlewareUrl
  if (typeof authUrl !== 'string' || authUrl === '') {
    throw new Error('config.json has no authUrl')
  }
  if (typeof middlewareUrl !== 'string' || middlewareUrl === '') {
    throw new Error('config.json has no middlewareUrl')
  }
  const maxDataBytes =
    typeof value.maxDataBytes === 'number' && value.maxDataBytes > 0
      ? value.maxDataBytes
      : DEFAULT_MAX_DATA_BYTES
  return {
    authUrl: normaliseUrl(authUrl),
    middlewareUrl: normaliseUrl(middlewareUrl),
    version: typeof value.version === 'string' ? value.version : 'unknown',
    maxDataBytes,
  }
}

/** Fetch /config.json; in development fall back to the local defaults. */
export async function loadRuntimeConfig(): Promise<RuntimeConfig> {
  try {
    const response = await fetch('/config.json', { cache: 'no-store' })
    if (!response.ok) {
      throw new Error(`GET /config.json answered ${response.status}`)
    }
    current = parseRuntimeConfig(await response.json())
  } catch (error) {
    if (!import.meta.env.DEV) {
      throw error
    }
    current = { ...DEV_FALLBACK }
  }
  return current
}

export function setRuntimeConfig(config: RuntimeConfig): void {
  current = config
}

export function getRuntimeConfig(): RuntimeConfig {
  if (current === null) {
    throw new Error('Runtime config was used before it was loaded')
  }
  return current
}
