import { type FormEvent, useEffect, useState } from 'react'
import { type SessionInfo, signIn } from '../session.ts'

/**
 * Sign-in with an API key (baton keys create, or the key `baton dev` prints). The key is
 * sent once to POST /v2/sessions and not kept: the session lives in an HttpOnly cookie.
 */
export function SignInPage({ onSignedIn }: { onSignedIn?: (who: SessionInfo) => void }) {
  const [key, setKey] = useState('')
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)

  useEffect(() => {
    document.title = 'Sign in · Baton'
  }, [])

  async function submit(e: FormEvent) {
    e.preventDefault()
    setBusy(true)
    setError(null)
    try {
      const who = await signIn(key)
      setKey('')
      onSignedIn?.(who)
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err))
    } finally {
      setBusy(false)
    }
  }

  return (
    <section className="sign-in">
      <h1>Sign in</h1>
      <p className="hint">
        Paste an API key (<code>baton keys create --name NAME --role viewer|operator|admin</code>). It is exchanged
        for a session cookie and not stored by the browser.
      </p>
      <form onSubmit={submit}>
        <label htmlFor="api-key">API key</label>
        <input
          id="api-key"
          type="password"
          autoComplete="off"
          spellCheck={false}
          placeholder="baton_..."
          value={key}
          onChange={(e) => setKey(e.target.value)}
          required
        />
        <button type="submit" disabled={busy || key.trim() === ''}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      {error && (
        <div className="problem" role="alert">
          {error}
        </div>
      )}
    </section>
  )
}
