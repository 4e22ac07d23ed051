import { useEffect } from 'react'

/** Sets the document title to "name · Baton" while the page is shown. */
export function useTitle(name: string): void {
  useEffect(() => {
    document.title = `${name} · Baton`
  }, [name])
}
