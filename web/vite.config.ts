/// <reference types="vitest" />
import { defineConfig } from 'vite';
import { resolve } from 'node:path';
import { chinaProvinces } from './china-provinces';

// One project, several entries: the console at /, later the engineers' app
// at /app/ and the public pages at /r/ and /s/. The output is embedded in
// the pdm binary (web/web.go), so it goes to dist/ui.
export default defineConfig({
  plugins: [chinaProvinces()],
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: 'dist/ui',
    emptyOutDir: true,
    target: 'es2020',
    sourcemap: false,
    chunkSizeWarningLimit: 400,
    rollupOptions: {
      input: {
        console: resolve(__dirname, 'index.html'),
        public: resolve(__dirname, 'pages/index.html'),
        app: resolve(__dirname, 'app/index.html'),
      },
    },
  },
  server: {
    proxy: { '/api': process.env.PDM_API ?? 'http://127.0.0.1:8080' },
  },
  test: {
    environment: 'happy-dom',
    include: ['src/**/*.test.ts', 'src/**/*.test.tsx'],
  },
});
