import { describe, expect, it } from 'vitest'
import { parseJsonPath } from './json-path'

describe('parseJsonPath', () => {
  it('reads the paths the API sends', () => {
    expect(parseJsonPath('$')).toEqual([])
    expect(parseJsonPath('$.text')).toEqual(['text'])
    expect(parseJsonPath('$.items[2].name')).toEqual(['items', 2, 'name'])
    expect(parseJsonPath("$['odd key'][0]")).toEqual(['odd key', 0])
    expect(parseJsonPath("$['it\\'s']")).toEqual(["it's"])
  })

  it('refuses what is not a JSON path', () => {
    expect(parseJsonPath('text')).toBeNull()
    expect(parseJsonPath('$[x]')).toBeNull()
  })
})
