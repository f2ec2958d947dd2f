/** The pager's label, e.g. "1–20 of 57". */
export function pageRange(offset: number, shown: number, total: number): string {
  if (total === 0 || shown === 0) return `0 of ${total}`
  return `${offset + 1}–${offset + shown} of ${total}`
}
