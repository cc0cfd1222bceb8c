/** The demo app: a chat page (index.html) and a kernel lab (lab.html), built as a static site. */
import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  root: here('.'),
  base: './',
  publicDir: false,
  worker: { format: 'es' },
  build: {
    outDir: here('./dist'),
    emptyOutDir: true,
    target: 'es2022',
    rollupOptions: { input: { chat: here('./index.html'), lab: here('./lab.html') } },
  },
  server: { fs: { allow: [here('..')] } },
});
