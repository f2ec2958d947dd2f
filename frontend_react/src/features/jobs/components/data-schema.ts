/**
 * The rules of the generated data form: the type's `input_schema` as a form
 * schema, how it is laid out, the validator (JSON Schema draft 2020-12, the
 * dialect the API checks `data` in) and the API's errors placed on its fields.
 */
import type { ErrorSchema, RJSFSchema, RJSFValidationError, UiSchema } from '@rjsf/utils'
import { customizeValidator } from '@rjsf/validator-ajv8'
import Ajv2020 from 'ajv/dist/2020'
import type Form from '@rjsf/core'
import type { JobType, JsonValue } from '@/types/api'
import { parseJsonPath, type PathKey } from './json-path'

/** What the form holds: any JSON value, or nothing yet. */
export type DataValue = JsonValue | undefined

/** The value type rjsf is told about (a recursive JSON type is too deep for its generics). */
export type FormValue = unknown

export type DataForm = Form<FormValue, RJSFSchema>

/**
 * Draft 2020-12, like the API. `format` is an annotation there, not a check
 * (as in the API), so it is not asserted here either: the form refuses
 * exactly what the API would.
 */
export const dataValidator = customizeValidator<FormValue, RJSFSchema>({
  AjvClass: Ajv2020 as never,
  ajvFormatOptions: false,
  ajvOptionsOverrides: { validateFormats: false },
})

export const EMPTY_DATA_MESSAGE = 'Enter the data to process'

const ANNOTATIONS = new Set(['title', 'description', '$schema', '$id', '$comment', 'default', 'examples'])

/**
 * Whether SCHEMA accepts any JSON value (`{}`, `true`, only annotations): a
 * form library draws no field for it, so the form asks for JSON text instead.
 */
export function isAnyJson(inputSchema: JobType['input_schema'] | undefined): boolean {
  if (inputSchema === true) return true
  if (inputSchema === undefined || inputSchema === false) return false
  return Object.keys(inputSchema).every((key) => ANNOTATIONS.has(key))
}

/** The field that takes any JSON value, as JSON text. */
export const ANY_JSON_FORM: RJSFSchema = {
  type: 'string',
  title: 'Data (JSON)',
  description: 'Any JSON value, e.g. {"text": "hello"}, [1, 2], 42 or "a text"',
}

/** JSON text as the value it writes, or the reason it is not JSON. */
export function parseJsonText(text: string): { value: JsonValue } | { error: string } {
  if (text.trim() === '') return { value: null }
  try {
    return { value: JSON.parse(text) as JsonValue }
  } catch (error) {
    return { error: `Not JSON: ${error instanceof Error ? error.message : String(error)}` }
  }
}

/** A type's `input_schema` (a schema object, or `true`/`false`) as a schema object. */
export function toFormSchema(inputSchema: JobType['input_schema']): RJSFSchema {
  if (isAnyJson(inputSchema)) return ANY_JSON_FORM
  if (inputSchema === false) return { not: {} }
  return inputSchema as RJSFSchema
}

function isPlainText(schema: RJSFSchema): boolean {
  return (
    schema.type === 'string' &&
    schema.enum === undefined &&
    schema.const === undefined &&
    schema.format === undefined &&
    schema.oneOf === undefined &&
    schema.anyOf === undefined
  )
}

export function dataUiSchema(schema: RJSFSchema): UiSchema<FormValue, RJSFSchema> {
  const ui: UiSchema<FormValue, RJSFSchema> = {
    'ui:submitButtonOptions': { norender: true },
  }
  if (schema.title === undefined) ui['ui:title'] = 'Data'
  if (isPlainText(schema)) {
    // A text to process (reverse's data): a text box, where an empty box is
    // the empty string, so the schema's own minLength is what refuses it.
    ui['ui:widget'] = 'textarea'
    ui['ui:options'] = { rows: 4, emptyValue: '' }
  }
  return ui
}

/**
 * Friendlier words for an empty text and a missing property; every other
 * message is Ajv's own.
 */
export function transformDataErrors(errors: RJSFValidationError[]): RJSFValidationError[] {
  return errors.map((error) => {
    const atRoot = error.property === '' || error.property === '.' || error.property === undefined
    if (atRoot && error.name === 'minLength' && error.params?.limit === 1) {
      return { ...error, message: EMPTY_DATA_MESSAGE, stack: EMPTY_DATA_MESSAGE }
    }
    if (error.name === 'required') {
      return { ...error, message: 'Fill this in', stack: `${String(error.params?.missingProperty)}: Fill this in` }
    }
    return error
  })
}

function subSchema(schema: RJSFSchema, key: PathKey): RJSFSchema | null {
  if (typeof key === 'string') {
    const property = schema.properties?.[key]
    return typeof property === 'object' ? (property as RJSFSchema) : null
  }
  const items = schema.items
  return typeof items === 'object' && !Array.isArray(items) ? (items as RJSFSchema) : null
}

/**
 * The server's error about `data` at PATH as an rjsf error schema: on the
 * field it names when the form shows that field, else on the deepest one
 * above it that it shows (at worst the whole form), so it is never lost.
 */
export function serverErrorSchema(
  schema: RJSFSchema,
  message: string,
  path: string | null,
): ErrorSchema<FormValue> {
  const keys = path === null ? [] : (parseJsonPath(path) ?? [])
  const shown: PathKey[] = []
  let current: RJSFSchema | null = schema
  for (const key of keys) {
    current = current && subSchema(current, key)
    if (current === null) break
    shown.push(key)
  }
  const text = path !== null && !message.includes(path) ? `${message} (at ${path})` : message
  let errors: Record<string, unknown> = { __errors: [text] }
  for (const key of shown.reverse()) errors = { [String(key)]: errors }
  return errors as ErrorSchema<FormValue>
}
