import { useEffect } from 'react'
import { RunPage } from './pages/RunPage.tsx'
import { RunsPage } from './pages/RunsPage.tsx'
import { StartRunPage } from './pages/StartRunPage.tsx'
import { Link, navigate, useLocation } from './router.tsx'

/** The dashboard shell: header and the page for the current path. */
export function App() {
  const { path } = useLocation()
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
