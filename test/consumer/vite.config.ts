import { defineConfig } from 'vite';

// Nothing hearth-specific: `vite build` follows hearth's
// `new Worker(new URL('./worker.js', import.meta.url), { type: 'module' })` from node_modules and
// emits the worker as a chunk of this app. (Vite 8's dev server does too; older Vite versions,
// whose dependency pre-bundling moves code away from worker.js, need
// `optimizeDeps: { exclude: ['hearth'] }` for `vite dev`.)
export default defineConfig({});
