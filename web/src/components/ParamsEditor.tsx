import { useState } from 'react'
import { formatParams, paramsBody, type ParamsBody } from '../api.ts'

/**
 * An inline editor for the params of a retry or resubmit, prefilled with the current
 * params. Submitting unchanged params sends no body (the task keeps its params).
 */
export function ParamsEditor(props: {
  params: unknown
  submitLabel: string
  pending: boolean
  onSubmit: (body: ParamsBody | undefined) => void
  onClose: () => void
}) {
  const { params, submitLabel, pending, onSubmit, onClose } = props
  const [text, setText] = useState(() => formatParams(params))
  const [error, setError] = useState<string>()

  const submit = () => {
    const res = paramsBody(text, params)
    if ('error' in res) {
      setError(res.error)
      return
    }
    setError(undefined)
    onSubmit(res.body)
  }

  return (
    <div className="params-editor">
      <label>
        Params <span className="hint">(JSON object; leave unchanged to keep the current params)</span>
        <textarea
          rows={Math.min(14, Math.max(4, text.split('\n').length + 1))}
          value={text}
          spellCheck={false}
          onChange={(e) => setText(e.target.value)}
        />
      </label>
      {error && <p className="field-error">{error}</p>}
      <div className="actions">
        <button type="button" className="button primary" disabled={pending} onClick={submit}>
          {pending ? 'Sending…' : submitLabel}
        </button>
        <button type="button" className="link-button" onClick={onClose}>
          Close
        </button>
      </div>
    </div>
  )
}
