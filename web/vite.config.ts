import { defineConfig } from 'vitest/config';

// The production build goes straight into the Go package that embeds it
// (internal/web/dist), so `go build` needs no Node. Asset names carry a
// content hash; the Go handler serves them as immutable.
export default defineConfig({
  base: '/',
  oxc: {
    jsx: { runtime: 'automatic', importSource: 'preact' },
  },
  build: {
    outDir: '../internal/web/dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    target: 'es2022',
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
  server: {
    host: '127.0.0.1',
    port: 5173,
    proxy: {
      // The kanade backend (e.g. `kanade dev` or `kanade server`).
      '/api': { target: (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env.KANADE_API ?? 'http://127.0.0.1:8080', changeOrigin: false },
    },
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
