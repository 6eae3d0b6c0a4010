import preact from '@preact/preset-vite'
import { defineConfig } from 'vite'

// Served by the console server under /console/ (src/web.ts); the API lives under /console/api.
export default defineConfig({
  base: '/console/',
  plugins: [preact()],
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', sourcemap: true },
  server: { proxy: { '/console/api': process.env.CONSOLE_URL ?? 'http://127.0.0.1:3006' } }
})
