/// <reference types="vitest/config" />
import { defineConfig, type Plugin } from 'vite'
import react from '@vitejs/plugin-react'
import { fileURLToPath } from 'node:url'

/**
 * In production `toy-platform web` serves /config.json. Under `npm run dev` and
 * `npm run preview` this plugin serves it instead, pointing at a local backend
 * (override with TOY_AUTH_URL / TOY_MIDDLEWARE_URL).
 */
function devRuntimeConfig(): Plugin {
  const body = JSON.stringify({
    authUrl: process.env.TOY_AUTH_URL ?? 'http://127.0.0.1:6300',
    middlewareUrl: process.env.TOY_MIDDLEWARE_URL ?? 'http://127.0.0.1:6302',
    version: 'dev',
  })
  const serve = (
    req: { url?: string },
    res: { setHeader(n: string, v: string): void; end(b: string): void },
    next: () => void,
  ): void => {
    if (req.url?.split('?')[0] === '/config.json') {
      res.setHeader('Content-Type', 'application/json')
      res.setHeader('Cache-Control', 'no-cache')
      res.end(body)
      return
    }
    next()
  }
  return {
    name: 'toy-platform-dev-config',
    configureServer(server) {
      server.middlewares.use(serve)
    },
    configurePreviewServer(server) {
      server.middlewares.use(serve)
    },
  }
}

export default defineConfig({
  plugins: [react(), devRuntimeConfig()],
  resolve: {
    alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) },
  },
  server: { port: 5173, strictPort: false },
  build: {
    outDir: fileURLToPath(new URL('../toy_platform/web_dist', import.meta.url)),
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
  },
  test: {
    environment: 'jsdom',
    globals: true,
    setupFiles: ['./src/test/setup.ts'],
    css: false,
    restoreMocks: true,
  },
})
