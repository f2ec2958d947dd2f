/// <reference types="vitest/config" />
import { defineConfig, type Plugin, type ProxyOptions } from 'vite'
import react from '@vitejs/plugin-react'
import { fileURLToPath } from 'node:url'

const AUTH_TARGET = process.env.TOY_AUTH_URL ?? 'http://127.0.0.1:6300'
const MIDDLEWARE_TARGET = process.env.TOY_MIDDLEWARE_URL ?? 'http://127.0.0.1:6302'

/**
 * In production `toy-platform web` serves /config.json. Under `npm run dev`
 * and `npm run preview` this plugin serves it instead, pointing at same-origin
 * paths that Vite proxies to a local backend (so no CORS set-up is needed).
 * Point elsewhere with TOY_AUTH_URL / TOY_MIDDLEWARE_URL.
 */
function devRuntimeConfig(): Plugin {
  const body = JSON.stringify({ authUrl: '/_auth', middlewareUrl: '/_middleware', version: 'dev' })
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

function proxyTo(prefix: string, name: string, target: string): Record<string, ProxyOptions> {
  return {
    [prefix]: {
      target,
      changeOrigin: true,
      rewrite: (path) => path.slice(prefix.length) || '/',
      configure: (proxy) => {
        // Answer like the platform does when the service is down.
        proxy.on('error', (_error, _req, res) => {
          if ('writeHead' in res && !res.headersSent) {
            res.writeHead(502, { 'Content-Type': 'application/json' })
            res.end(JSON.stringify({ error: `The ${name} service at ${target} is not answering`, code: 'unreachable' }))
          }
        })
      },
    },
  }
}

const devProxy = {
  ...proxyTo('/_auth', 'auth', AUTH_TARGET),
  ...proxyTo('/_middleware', 'middleware', MIDDLEWARE_TARGET),
}

export default defineConfig({
  plugins: [react(), devRuntimeConfig()],
  resolve: {
    alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) },
  },
  server: { port: 5173, proxy: devProxy },
  preview: { port: 4173, proxy: devProxy },
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
    unstubGlobals: true,
  },
})
