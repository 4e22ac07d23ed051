import { useState } from 'react'

/**
 * A JSON text area with a submit button: the generic editor of alert rules and channels.
 * Invalid JSON is reported here; the API's problem (422 naming the field) is shown by the page.
 */
export function JsonEditor(props: {
  label: string
  initial: unknown
  submitLabel: string
  pending: boolean
  onSubmit: (body: Record<string, unknown>) => void
  onClose: () => void
}) {
  const [text, setText] = useState(() => JSON.stringify(props.initial, null, 2))
  const [err, setErr] = useState<string>()
  const submit = () => {
    let v: unknown
    try {
      v = JSON.parse(text)
    } catch (e) {
      setErr(`Not valid JSON: ${e instanceof Error ? e.message : String(e)}`)
      return
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      setErr('The body must be a JSON object.')
      return
    }
    setErr(undefined)
    props.onSubmit(v as Record<string, unknown>)
  }
  return (
    <div className="panel">
      <label>
        {props.label}
        <textarea className="json-input" rows={12} value={text} onChange={(e) => setText(e.target.value)} spellCheck={false} />
      </label>
      {err && (
        <div className="problem" role="alert">
          {err}
        </div>
      )}
      <div className="head-actions">
        <button type="button" className="button primary" disabled={props.pending} onClick={submit}>
          {props.pending ? 'Saving…' : props.submitLabel}
        </button>
        <button type="button" className="button" onClick={props.onClose}>
          Close
        </button>
      </div>
    </div>
  )
}
