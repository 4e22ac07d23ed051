import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { RouterProvider } from 'react-router'
import { LiveProvider, newQueryClient } from './api/live.tsx'
import { createRouter } from './App.tsx'
import './styles.css'

const saved = localStorage.getItem('baton.theme')
document.documentElement.dataset.theme =
  saved === 'dark' || saved === 'light' ? saved : window.matchMedia?.('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'

const queryClient = newQueryClient()

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <LiveProvider client={queryClient}>
      <RouterProvider router={createRouter(queryClient)} />
    </LiveProvider>
  </StrictMode>,
)
