import { COMPONENT_NAMES, type ComponentName, type PlatformStatus } from '@/types/api'

export interface StatusSummary {
  ok: boolean
  text: string
}

const ORDER: readonly ComponentName[] = COMPONENT_NAMES

function names(list: string[]): string {
  if (list.length <= 1) return list.join('')
  return `${list.slice(0, -1).join(', ')} and ${list[list.length - 1]}`
}

/** One line for the header: what is wrong, naming the components. */
export function summarizeStatus(status: PlatformStatus | undefined, failed: boolean): StatusSummary {
  if (failed || status === undefined) {
    return { ok: false, text: failed ? 'middleware is not answering' : 'Checking…' }
  }
  const components = status.components
  const known = [...ORDER, ...Object.keys(components).filter((n) => !ORDER.includes(n as ComponentName))]
  const down: string[] = []
  const notReady: string[] = []
  for (const name of known) {
    const component = components[name as ComponentName]
    if (!component) continue
    if (!component.up) down.push(name)
    else if (!component.ready) notReady.push(name)
  }
  const parts: string[] = []
  if (down.length) parts.push(`${names(down)} ${down.length === 1 ? 'is' : 'are'} down`)
  if (notReady.length) parts.push(`${names(notReady)} ${notReady.length === 1 ? 'is' : 'are'} not ready`)
  if (parts.length === 0) {
    return status.all_ready
      ? { ok: true, text: 'All systems operational' }
      : { ok: false, text: 'The platform is not ready' }
  }
  return { ok: false, text: parts.join('; ') }
}
