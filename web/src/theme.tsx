// Light and dark themes: the user's choice is kept in localStorage; without one the
// system's preference applies. The theme is the data-theme attribute of <html>, which the
// CSS variables in styles.css follow.
import { useEffect, useState } from 'react'

type Theme = 'light' | 'dark'

const storageKey = 'baton.theme'

function initialTheme(): Theme {
  const saved = localStorage.getItem(storageKey)
  if (saved === 'light' || saved === 'dark') return saved
  return window.matchMedia?.('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'
}

/** A button switching between the light and the dark theme. */
export function ThemeToggle() {
  const [theme, setTheme] = useState<Theme>(initialTheme)
  useEffect(() => {
    document.documentElement.dataset.theme = theme
  }, [theme])
  const next: Theme = theme === 'dark' ? 'light' : 'dark'
  return (
    <button
      type="button"
      className="button small theme-toggle"
      aria-label={`Switch to the ${next} theme`}
      onClick={() => {
        localStorage.setItem(storageKey, next)
        setTheme(next)
      }}
    >
      {theme === 'dark' ? '☀' : '☾'}
    </button>
  )
}
