import { useEffect, useState } from 'react'
import { isAbort, listWorkflows, toApiError, type ApiError, type Workflow } from './api.ts'

/** Loads the workflow list once (for the filters and the start form). */
export function useWorkflows(): { workflows: Workflow[] | undefined; error: ApiError | undefined } {
  const [state, setState] = useState<{ workflows?: Workflow[]; error?: ApiError }>({})
  useEffect(() => {
    const ctrl = new AbortController()
    listWorkflows(ctrl.signal).then(
      (res) => setState({ workflows: [...(res.workflows ?? [])].sort((a, b) => a.name.localeCompare(b.name)) }),
      (err: unknown) => {
        if (!isAbort(err)) setState({ error: toApiError(err) as ApiError })
      },
    )
    return () => ctrl.abort()
  }, [])
  return { workflows: state.workflows, error: state.error }
}
