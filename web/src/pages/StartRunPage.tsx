import { useEffect, useState, type FormEvent } from 'react'
import { parseRunInput, startRun, toApiError, type ApiError } from '../api.ts'
import { ProblemBanner } from '../components/ProblemBanner.tsx'
import { Link, useNavigate } from 'react-router'
import { useLocation } from '../router.tsx'
import { useWorkflows } from '../useWorkflows.ts'

/** The start form: /runs/new?workflow=… */
export function StartRunPage() {
  const { query } = useLocation()
  const navigate = useNavigate()
  const { workflows, error: listError } = useWorkflows()
  const [workflow, setWorkflow] = useState(query.get('workflow') ?? '')
  const [input, setInput] = useState('{\n  \n}')
  const [inputError, setInputError] = useState<string>()
  const [submit, setSubmit] = useState<{ pending: boolean; error?: ApiError }>({ pending: false })

  useEffect(() => {
    document.title = 'Start run · Baton'
  }, [])

  // Pick the first workflow once the list arrives, unless the URL named one.
  useEffect(() => {
    if (!workflow && workflows && workflows.length > 0) setWorkflow(workflows[0]!.name)
  }, [workflows, workflow])

  const selected = workflows?.find((w) => w.name === workflow)

  const onSubmit = async (e: FormEvent) => {
    e.preventDefault()
    const parsed = parseRunInput(input)
    if ('error' in parsed) {
      setInputError(parsed.error)
      return
    }
    setInputError(undefined)
    setSubmit({ pending: true })
    try {
      const run = await startRun(workflow, parsed.input)
      navigate(run && typeof run.id === 'number' ? `/runs/${run.id}` : '/runs')
    } catch (err) {
      setSubmit({ pending: false, error: toApiError(err) as ApiError })
    }
  }

  return (
    <section className="narrow">
      <div className="breadcrumbs">
        <Link to="/runs">Runs</Link> / new
      </div>
      <h1>Start run</h1>
      <ProblemBanner error={listError} />
      <form className="form" onSubmit={(e) => void onSubmit(e)}>
        <label htmlFor="workflow">Workflow</label>
        <select id="workflow" value={workflow} required onChange={(e) => setWorkflow(e.target.value)}>
          {!workflows && <option value={workflow}>{workflow || 'Loading…'}</option>}
          {workflows && workflows.length === 0 && <option value="">No workflows defined</option>}
          {workflows && workflow && !selected && <option value={workflow}>{workflow}</option>}
          {workflows?.map((w) => (
            <option key={w.name} value={w.name}>
              {w.name} (v{w.version})
            </option>
          ))}
        </select>
        {selected && (
          <p className="hint">
            {selected.description || 'No description.'} · {selected.steps} step{selected.steps === 1 ? '' : 's'}
          </p>
        )}

        <label htmlFor="input">Input (JSON object)</label>
        <textarea
          id="input"
          rows={10}
          spellCheck={false}
          value={input}
          onChange={(e) => setInput(e.target.value)}
          aria-invalid={inputError ? true : undefined}
        />
        {inputError && <p className="field-error">{inputError}</p>}

        <ProblemBanner error={submit.error} />
        <div className="actions">
          <button type="submit" className="button primary" disabled={submit.pending || !workflow}>
            {submit.pending ? 'Starting…' : 'Start run'}
          </button>
          <Link to="/runs">Cancel</Link>
        </div>
      </form>
    </section>
  )
}
