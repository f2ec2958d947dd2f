import type { RJSFSchema } from '@rjsf/utils'
import { describe, expect, it } from 'vitest'
import {
  ANY_JSON_FORM,
  EMPTY_DATA_MESSAGE,
  dataUiSchema,
  isAnyJson,
  parseJsonText,
  dataValidator,
  serverErrorSchema,
  toFormSchema,
  transformDataErrors,
} from './data-schema'

const REVERSE: RJSFSchema = { type: 'string', minLength: 1 }
const OBJECT: RJSFSchema = {
  type: 'object',
  properties: { text: { type: 'string' }, items: { type: 'array', items: { type: 'object', properties: { n: { type: 'integer' } } } } },
  required: ['text'],
}

function errorsOf(data: unknown, schema: RJSFSchema) {
  return dataValidator.validateFormData(data, schema, undefined, transformDataErrors).errors
}

describe('the data form rules', () => {
  it('refuses an empty text for reverse with the API’s rule, in plain words', () => {
    expect(errorsOf('', REVERSE).map((e) => e.message)).toEqual([EMPTY_DATA_MESSAGE])
    expect(errorsOf('hello', REVERSE)).toEqual([])
  })

  it('checks in JSON Schema draft 2020-12, as the API does', () => {
    const tuple: RJSFSchema = {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'array',
      prefixItems: [{ type: 'string' }, { type: 'integer' }],
      items: false,
    } as RJSFSchema
    expect(errorsOf(['a', 1], tuple)).toEqual([])
    expect(errorsOf(['a', 'b'], tuple)).not.toEqual([])
    expect(errorsOf(['a', 1, 2], tuple)).not.toEqual([])
  })

  it('treats format as an annotation, as draft 2020-12 (and the API) does', () => {
    expect(errorsOf('not an email', { type: 'string', format: 'email' })).toEqual([])
  })

  it('turns a boolean schema into a form schema', () => {
    expect(toFormSchema(true)).toEqual(ANY_JSON_FORM)
    expect(errorsOf(42, toFormSchema(false))).not.toEqual([])
  })

  it('labels a schema without a title "Data", and makes a plain text a text box', () => {
    expect(dataUiSchema(REVERSE)).toMatchObject({ 'ui:title': 'Data', 'ui:widget': 'textarea' })
    expect(dataUiSchema({ ...OBJECT, title: 'Words' })).not.toHaveProperty('ui:title')
    expect(dataUiSchema(OBJECT)).not.toHaveProperty('ui:widget')
  })

  it('puts the API’s error on the field its JSON path names, with the path', () => {
    expect(serverErrorSchema(OBJECT, 'bad', '$.text')).toEqual({ text: { __errors: ['bad (at $.text)'] } })
    expect(serverErrorSchema(OBJECT, 'bad', '$.items[2].n')).toEqual({
      items: { 2: { n: { __errors: ['bad (at $.items[2].n)'] } } },
    })
    expect(serverErrorSchema(OBJECT, 'at $.text: 3 is not a string', '$.text')).toEqual({
      text: { __errors: ['at $.text: 3 is not a string'] },
    })
  })

  it('puts it on the nearest field the form shows when the path goes further, and on the form without a path', () => {
    expect(serverErrorSchema(OBJECT, 'bad', '$.other.deep')).toEqual({ __errors: ['bad (at $.other.deep)'] })
    expect(serverErrorSchema(OBJECT, 'too large', null)).toEqual({ __errors: ['too large'] })
    expect(serverErrorSchema(REVERSE, 'bad', '$')).toEqual({ __errors: ['bad (at $)'] })
  })
})

describe('a type that takes any JSON value', () => {
  it('is asked for as JSON text, parsed before it is sent', () => {
    expect(isAnyJson({})).toBe(true)
    expect(isAnyJson(true)).toBe(true)
    expect(isAnyJson({ title: 'Anything' })).toBe(true)
    expect(isAnyJson({ type: 'string' })).toBe(false)
    expect(toFormSchema({})).toEqual(ANY_JSON_FORM)
    expect(parseJsonText('1')).toEqual({ value: 1 })
    expect(parseJsonText('{"a": [1]}')).toEqual({ value: { a: [1] } })
    expect(parseJsonText('  ')).toEqual({ value: null })
    expect('error' in parseJsonText('{oops')).toBe(true)
  })
})
