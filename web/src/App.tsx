import { useEffect } from 'react'
import { AttentionPage } from './pages/AttentionPage.tsx'
import { DeadLettersPage } from './pages/DeadLettersPage.tsx'
import { RunPage } from './pages/RunPage.tsx'
import { RunsPage } from './pages/RunsPage.tsx'
import { StartRunPage } from './pages/StartRunPage.tsx'
import { Link, navigate, useLocation } from './router.tsx'
import { useDeadLetterStats } from './useDeadLetterStats.ts'

/** The dashboard shell: header and the page for the current path. */
export function App() {
  const { path } = useLocation()
  const dlq = useDeadLetterStats()
  const dlqSize = dlq.data?.size ?? 0
  return (
    <>
      <header className="topbar">
        <Link to="/runs" className="brand">
          <img src="/favicon.svg" alt="" width={22} height={22} /> Baton
        </Link>
        <nav>
          <Link to="/runs" className={path === '/runs' || /^\/runs\/\d+$/.test(path) ? 'active' : undefined}>
            Runs
          </Link>
          <Link to="/runs/new" className={path === '/runs/new' ? 'active' : undefined}>
            Start run
          </Link>
          <Link to="/dead-letters" className={path === '/dead-letters' ? 'active' : undefined}>
            Dead letters
            {dlqSize > 0 && (
              <span className="nav-badge" title={`${dlqSize} in the dead-letter queue`}>
                {dlqSize}
              </span>
            )}
          </Link>
          <Link to="/attention" className={path === '/attention' ? 'active' : undefined}>
            Attention
          </Link>
          {/* Served by the Go binary (web.go), outside this app: a full page load. */}
          <a href="/docs/">API docs</a>
        </nav>
      </header>
      <main>
        <Page path={path} />
      </main>
    </>
  )
}

function Page({ path }: { path: string }) {
  if (path === '/' || path === '') return <Redirect to="/runs" />
  if (path === '/runs' || path === '/runs/') return <RunsPage />
  if (path === '/runs/new') return <StartRunPage />
  if (path === '/dead-letters' || path === '/dead-letters/') return <DeadLettersPage />
  if (path === '/attention' || path === '/attention/') return <AttentionPage />
  const m = /^\/runs\/(\d+)\/?$/.exec(path)
  if (m) {
    const id = Number(m[1])
    return <RunPage key={id} id={id} />
  }
  return <NotFound />
}

function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, { replace: true }), [to])
  return null
}

function NotFound() {
  useEffect(() => {
    document.title = 'Not found · Baton'
  }, [])
  return (
    <section>
      <h1>Page not found</h1>
      <p>
        Nothing lives here. <Link to="/runs">Go to the runs.</Link>
      </p>
    </section>
  )
}
