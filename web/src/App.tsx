import { type QueryClient, useQueryClient } from '@tanstack/react-query'
import { lazy, Suspense, useEffect, useState } from 'react'
import { createBrowserRouter, Link, NavLink, Navigate, Outlet, useRouteError } from 'react-router'
import { prefetchAnalytics } from './analytics.ts'
import { getGantt, getRun } from './api.ts'
import { setUnauthorizedHandler } from './api/client.ts'
import { useStreamConnected } from './api/live.tsx'
import { SignInPage } from './pages/SignInPage.tsx'
import { ThemeToggle } from './theme.tsx'
import { useDeadLetterStats } from './useDeadLetterStats.ts'

// Each page is its own chunk: the first paint loads only the shell and the page shown.
const RunsPage = lazy(() => import('./pages/RunsPage.tsx').then((m) => ({ default: m.RunsPage })))
const RunPage = lazy(() => import('./pages/RunPage.tsx').then((m) => ({ default: m.RunPage })))
const StartRunPage = lazy(() => import('./pages/StartRunPage.tsx').then((m) => ({ default: m.StartRunPage })))
const DeadLettersPage = lazy(() => import('./pages/DeadLettersPage.tsx').then((m) => ({ default: m.DeadLettersPage })))
const AttentionPage = lazy(() => import('./pages/AttentionPage.tsx').then((m) => ({ default: m.AttentionPage })))
const AnalyticsPage = lazy(() => import('./pages/AnalyticsPage.tsx').then((m) => ({ default: m.AnalyticsPage })))
const AlertsPage = lazy(() => import('./pages/AlertsPage.tsx').then((m) => ({ default: m.AlertsPage })))
const BreakersPage = lazy(() => import('./pages/BreakersPage.tsx').then((m) => ({ default: m.BreakersPage })))
const SchedulesPage = lazy(() => import('./pages/SchedulesPage.tsx').then((m) => ({ default: m.SchedulesPage })))
const TriggersPage = lazy(() => import('./pages/TriggersPage.tsx').then((m) => ({ default: m.TriggersPage })))
const NodesPage = lazy(() => import('./pages/NodesPage.tsx').then((m) => ({ default: m.NodesPage })))

/**
 * Starts loading a run and its Gantt data while the run page's code downloads, so the two
 * waits overlap (the page's queries then find the data in the cache).
 */
function prefetchRun(qc: QueryClient, raw: string | undefined): null {
  const id = Number(raw)
  if (!Number.isSafeInteger(id) || id < 1) return null
  void qc.prefetchQuery({ queryKey: ['run', id], queryFn: ({ signal }) => getRun(id, signal) })
  void qc.prefetchQuery({ queryKey: ['gantt', id], queryFn: ({ signal }) => getGantt(id, signal) })
  return null
}

/** The app's routes; every page's state (filters, selection, time range) is in its URL. */
export function createRouter(qc: QueryClient) {
  return createBrowserRouter([
    {
      path: '/',
      element: <Shell />,
      errorElement: <Shell crashed />,
      children: [
        { index: true, element: <Navigate to="/runs" replace /> },
        { path: 'runs', element: <RunsPage /> },
        { path: 'runs/new', element: <StartRunPage /> },
        { path: 'runs/:id', element: <RunPage />, loader: ({ params }) => prefetchRun(qc, params.id) },
        {
          path: 'analytics',
          element: <AnalyticsPage />,
          loader: ({ request }) => {
            prefetchAnalytics(qc, new URL(request.url).searchParams)
            return null
          },
        },
        { path: 'alerts', element: <AlertsPage /> },
        { path: 'breakers', element: <BreakersPage /> },
        { path: 'schedules', element: <SchedulesPage /> },
        { path: 'triggers', element: <TriggersPage /> },
        { path: 'nodes', element: <NodesPage /> },
        { path: 'dead-letters', element: <DeadLettersPage /> },
        { path: 'attention', element: <AttentionPage /> },
        { path: '*', element: <NotFound /> },
      ],
    },
  ])
}

const navItems: { to: string; label: string }[] = [
  { to: '/runs', label: 'Runs' },
  { to: '/analytics', label: 'Analytics' },
  { to: '/alerts', label: 'Alerts' },
  { to: '/schedules', label: 'Schedules' },
  { to: '/triggers', label: 'Triggers' },
  { to: '/breakers', label: 'Breakers' },
  { to: '/nodes', label: 'Nodes' },
  { to: '/attention', label: 'Attention' },
]

/** The dashboard shell: header, navigation and the current page. */
function Shell({ crashed = false }: { crashed?: boolean }) {
  const dlq = useDeadLetterStats()
  const dlqSize = dlq.data?.size ?? 0
  const qc = useQueryClient()
  // Any 401 (no session, or it expired) shows the sign-in page in place of the current
  // one; signing in reloads every query.
  const [signInNeeded, setSignInNeeded] = useState(false)
  useEffect(() => setUnauthorizedHandler(() => setSignInNeeded(true)), [])
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link to="/runs" className="brand">
          <BrandMark /> Baton
        </Link>
        <nav aria-label="Main">
          {navItems.slice(0, 1).map((n) => (
            <NavLink key={n.to} to={n.to} end={false}>
              {n.label}
            </NavLink>
          ))}
          <NavLink to="/dead-letters">
            Dead letters
            {dlqSize > 0 && (
              <span className="nav-badge" title={`${dlqSize} in the dead-letter queue`}>
                {dlqSize}
              </span>
            )}
          </NavLink>
          {navItems.slice(1).map((n) => (
            <NavLink key={n.to} to={n.to}>
              {n.label}
            </NavLink>
          ))}
          {/* Served by the Go binary, outside this app: full page loads. */}
          <a href="/riverui/" title="River's job UI: raw queue inspection (its actions need the operator role)">
            River UI
          </a>
          <a href="/docs/">API docs</a>
        </nav>
        <LiveDot />
        <ThemeToggle />
      </header>
      <main id="main">
        {signInNeeded ? (
          <SignInPage
            onSignedIn={() => {
              setSignInNeeded(false)
              void qc.invalidateQueries()
            }}
          />
        ) : crashed ? (
          <Crash />
        ) : (
          <Suspense fallback={<p className="muted loading">Loading…</p>}>
            <Outlet />
          </Suspense>
        )}
      </main>
    </>
  )
}

/**
 * The logo (public/favicon.svg) drawn inline: as an <img>, the browser builds a separate SVG
 * document for it on every page load (about 8 ms of the main thread here).
 */
function BrandMark() {
  return (
    <svg viewBox="0 0 32 32" width={22} height={22} aria-hidden="true" focusable="false">
      <rect width="32" height="32" rx="7" fill="#1f2937" />
      <path d="M8 24 24 8" stroke="#f59e0b" strokeWidth="3.5" strokeLinecap="round" />
      <circle cx="9" cy="23" r="3.5" fill="#fbbf24" />
    </svg>
  )
}

/** The stream's state in the header (its own component: a reconnect re-renders only this). */
function LiveDot() {
  const live = useStreamConnected()
  return (
    <span className={`live-dot${live ? ' on' : ''}`} title={live ? 'Live: updates stream in' : 'Reconnecting to the live stream…'}>
      {live ? 'live' : 'offline'}
    </span>
  )
}

function Crash() {
  const err = useRouteError()
  return (
    <section className="problem" role="alert">
      <h1>Something broke on this page</h1>
      <p>{err instanceof Error ? err.message : String(err)}</p>
      <p>
        <Link to="/runs">Go to the runs.</Link>
      </p>
    </section>
  )
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
