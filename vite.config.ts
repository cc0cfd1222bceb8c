/**
 * Library builds:
 *   browser: dist/index.js (+ the worker as its own chunk, resolvable by consumers' bundlers)
 *   node:    dist/node.js and dist/cli.js (Dawn via the optional `webgpu` package)
 * WGSL is bundled in through `?raw` imports: nothing is fetched at run time.
 * Select with `vite build --mode node` for the Node entries.
 */
import { defineConfig } from 'vite';
import { builtinModules } from 'node:module';

export default defineConfig(({ mode }) => {
  if (mode === 'node') {
    return {
      build: {
        ssr: true,
        target: 'node20',
        outDir: 'dist',
        emptyOutDir: false,
        sourcemap: true,
        rollupOptions: {
          input: { node: 'src/node.ts', cli: 'src/cli.ts' },
          external: [...builtinModules, ...builtinModules.map((m) => `node:${m}`), 'webgpu', 'comlink', '@huggingface/tokenizers', '@huggingface/jinja'],
          output: { format: 'es', entryFileNames: '[name].js', chunkFileNames: 'chunks/[name]-[hash].js' },
        },
      },
    };
  }
  return {
    worker: { format: 'es' },
    build: {
      target: 'es2022',
      outDir: 'dist',
      emptyOutDir: true,
      sourcemap: true,
      lib: { entry: { index: 'src/index.ts' }, formats: ['es'] },
      rollupOptions: {
        external: ['comlink', '@huggingface/tokenizers', '@huggingface/jinja', /^node:/],
        output: { entryFileNames: '[name].js', chunkFileNames: 'chunks/[name]-[hash].js' },
      },
    },
  };
});
