/**
 * Library builds:
 *   browser: dist/index.js, with the worker as its own entry dist/worker.js, referred to as
 *            new Worker(new URL('./worker.js', import.meta.url), ...) so consumers' bundlers follow it
 *   node:    dist/node.js, dist/cli.js and dist/serve.js (Dawn via the optional `webgpu` package;
 *            fastify for hearth serve)
 * WGSL is bundled in through `?raw` imports: nothing is fetched at run time.
 * Select with `vite build --mode node` for the Node entries.
 */
import { defineConfig, type Plugin } from 'vite';
import { builtinModules } from 'node:module';
import { dirname } from 'node:path';

const WORKER_URL = /new URL\('\.\/worker\/worker\.ts', import\.meta\.url\)/;
const WORKER_FILE = '"./worker.js"';
const PLACEHOLDER = '__HEARTH_WK__';
const BUILT_WORKER_URL = `new URL(${WORKER_FILE}, import.meta.url)`;

/**
 * Left alone, Vite bundles the worker into an asset and writes
 * `new URL(new URL("assets/worker-….js", import.meta.url).href, "" + import.meta.url)`: the
 * `"" +` is there precisely so that consumers' bundlers do not follow it, and the worker's own
 * chunks would then go missing from their builds. Instead the worker is a second library entry,
 * and client.ts points at it with the plain `new Worker(new URL('./worker.js', import.meta.url))`
 * that Vite, webpack 5 and Parcel document for workers: they bundle it from node_modules as a
 * worker of the app (test/browser/consumer.test.ts builds such an app with Vite).
 */
function workerAsEntry(): Plugin {
  return {
    name: 'hearth:worker-as-entry',
    enforce: 'pre',
    transform(code, id) {
      if (!id.endsWith('/src/client.ts')) return null;
      if (!WORKER_URL.test(code)) this.error("src/client.ts must create its worker with new URL('./worker/worker.ts', import.meta.url)");
      // A global name hides the URL from Vite's own worker and asset plugins until the chunk is
      // rendered; it is as long as the string that replaces it, so source maps stay exact.
      // every occurrence: the same entry is started as a Worker and as a SharedWorker ({ shared: true })
      return { code: code.replace(new RegExp(WORKER_URL.source, 'g'), `new URL(${PLACEHOLDER}, import.meta.url)`), map: null };
    },
    renderChunk(code) {
      return code.includes(PLACEHOLDER) ? { code: code.replaceAll(PLACEHOLDER, WORKER_FILE), map: null } : null;
    },
    generateBundle(_, bundle) {
      const hosts = Object.values(bundle).filter((c) => c.type === 'chunk' && c.code.includes(BUILT_WORKER_URL));
      const worker = bundle['worker.js'];
      if (!worker || hosts.length !== 1 || dirname(hosts[0]!.fileName) !== '.') {
        this.error(`expected dist/worker.js and one top-level chunk with ${BUILT_WORKER_URL}; got ${hosts.map((c) => c.fileName).join(', ') || 'none'}`);
      }
    },
  };
}

/**
 * Local files are a Node-only path (resolveModelSource imports node-fs.js behind an isNode()
 * check). Left in, its `node:` imports would stop webpack 5 (UnhandledSchemeError) and make Vite
 * warn in every consumer's build.
 */
function noNodeFilesInBrowser(): Plugin {
  const stub = '\0node-fs.browser.js';
  return {
    name: 'hearth:no-node-files-in-browser',
    enforce: 'pre',
    resolveId(source, importer) {
      return source === './node-fs.js' && importer?.endsWith('/src/hub/resolve.ts') ? stub : null;
    },
    load(id) {
      // null is resolveModelSource's "no such local file", so a browser goes on to the Hub
      return id === stub ? 'export async function localSource() { return null; }' : null;
    },
  };
}

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
          input: { node: 'src/node.ts', cli: 'src/cli.ts', serve: 'src/serve/index.ts' },
          // fastify (hearth serve) is a runtime dependency of the Node entries only: never in the browser build
          external: [...builtinModules, ...builtinModules.map((m) => `node:${m}`), 'webgpu', 'comlink', '@huggingface/tokenizers', '@huggingface/jinja', 'fastify', '@fastify/cors'],
          output: { format: 'es', entryFileNames: '[name].js', chunkFileNames: 'chunks/[name]-[hash].js' },
        },
      },
    };
  }
  return {
    plugins: [workerAsEntry(), noNodeFilesInBrowser()],
    build: {
      target: 'es2022',
      outDir: 'dist',
      emptyOutDir: true,
      sourcemap: true,
      lib: { entry: { index: 'src/index.ts', worker: 'src/worker/worker.ts' }, formats: ['es'] },
      rollupOptions: {
        external: ['comlink', '@huggingface/tokenizers', '@huggingface/jinja'],
        output: { entryFileNames: '[name].js', chunkFileNames: 'chunks/[name]-[hash].js' },
      },
    },
  };
});
