/**
 * The `data` part of the submit form, generated from the job type's
 * `input_schema` by react-jsonschema-form (rules in data-schema.ts).
 */
import Form from '@rjsf/core'
import { errorId, type ErrorSchema, type FieldErrorProps, type RJSFSchema } from '@rjsf/utils'
import type { Ref } from 'react'
import {
  dataUiSchema,
  dataValidator,
  transformDataErrors,
  type DataForm,
  type DataValue,
  type FormValue,
} from './data-schema'

function DataFieldErrors({ errors = [], fieldPathId }: FieldErrorProps<FormValue, RJSFSchema>) {
  const shown = errors.filter((error) => Boolean(error))
  if (shown.length === 0) return null
  return (
    <div className="field-error" id={errorId(fieldPathId)}>
      {shown.map((error, index) => (
        <p key={index} className="field-error">
          {error}
        </p>
      ))}
    </div>
  )
}

export interface JobDataFormProps {
  schema: RJSFSchema
  formData: DataValue
  onChange: (value: DataValue) => void
  /** Prefix of the fields' ids (unique per form on the page). */
  idPrefix: string
  /** The API's error about the data, shown on the field it names. */
  extraErrors?: ErrorSchema<FormValue>
  /** Check as the user types (after a submit found errors). */
  liveValidate: boolean
  disabled?: boolean
  formRef: Ref<DataForm>
}

export function JobDataForm({
  schema,
  formData,
  onChange,
  idPrefix,
  extraErrors,
  liveValidate,
  disabled,
  formRef,
}: JobDataFormProps) {
  return (
    <Form<FormValue, RJSFSchema>
      ref={formRef}
      tagName="fieldset"
      className="data-form"
      schema={schema}
      uiSchema={dataUiSchema(schema)}
      validator={dataValidator}
      formData={formData}
      idPrefix={idPrefix}
      onChange={(event) => onChange(event.formData as DataValue)}
      // The errors are shown on their fields; nothing else to do with them.
      onError={() => undefined}
      transformErrors={transformDataErrors}
      extraErrors={extraErrors}
      liveValidate={liveValidate ? 'onChange' : undefined}
      showErrorList={false}
      noHtml5Validate
      useFallbackUiForUnsupportedType
      disabled={disabled}
      templates={{ FieldErrorTemplate: DataFieldErrors }}
    />
  )
}
