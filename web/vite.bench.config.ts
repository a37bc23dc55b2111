import { defineConfig } from 'vite';
import { resolve } from 'node:path';

// Bench-only pages (bench/*.html), built by scripts/bench-console.sh into
// dist/bench and served by the Go harness; never part of dist/ui, the
// bundle embedded in pdm.
export default defineConfig({
  root: resolve(__dirname, 'bench'),
  base: './',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: resolve(__dirname, 'dist/bench'),
    emptyOutDir: true,
    target: 'es2020',
    rollupOptions: { input: { chart: resolve(__dirname, 'bench/chart.html') } },
  },
});
