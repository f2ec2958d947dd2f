import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { App } from './app/app'
import { loadRuntimeConfig } from './config/runtime-config'
import './index.css'

const root = createRoot(document.getElementById('root')!)

loadRuntimeConfig().then(
  () =>
    root.render(
      <StrictMode>
        <App />
      </StrictMode>,
    ),
  (error: unknown) =>
    root.render(
      <div className="login-shell">
        <main className="card login-card" role="alert">
          <h1>toy-platform cannot start</h1>
          <p>The app could not read its configuration (/config.json).</p>
          <p className="muted small">{error instanceof Error ? error.message : String(error)}</p>
        </main>
      </div>,
    ),
)
