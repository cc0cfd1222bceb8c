/**
 * The in-browser benchmark's server, on 127.0.0.1 only: Vite's dev server for the page (it
 * compiles our TypeScript and `?raw` WGSL as the demo does), cross-origin isolated so wllama and
 * ONNX Runtime get SharedArrayBuffer and threads, plus two plain static routes:
 *   /bench-models/{name}   model files from disk, with Range (our loader streams by range)
 *   /peers/{ort|wllama|wllama2}/*  the peers' own wasm and glue from node_modules, untouched by Vite
 * Nothing is fetched from anywhere else.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, resolve } from 'node:path';
import { createServer, type Plugin, type ViteDevServer } from 'vite';

const ROOT = resolve(new URL('../..', import.meta.url).pathname);

const PEERS: Record<string, string> = {
  ort: join(ROOT, 'node_modules/onnxruntime-web/dist'),
  wllama: join(ROOT, 'node_modules/@wllama/wllama/esm'),
  // wllama 2.x (llama.cpp b7179) still exposes llama.cpp's tokenizer and llama_decode; 3.x only completions
  wllama2: join(ROOT, 'node_modules/wllama-v2/esm'),
};

const MIME: Record<string, string> = {
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.map': 'application/json',
};

const ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

export interface BenchServer {
  /** Origin, e.g. http://127.0.0.1:41234 */
  origin: string;
  /** Serve `path` at /bench-models/{name}; returns the URL. */
  addModel(name: string, path: string): string;
  /** Paths requested that were not on 127.0.0.1 would never reach here; this counts what did. */
  requests: string[];
  close(): Promise<void>;
}

function sendFile(req: IncomingMessage, res: ServerResponse, path: string): void {
  const size = statSync(path).size;
  const headers: Record<string, string | number> = {
    ...ISOLATION,
    'Content-Type': MIME[extname(path)] ?? 'application/octet-stream',
    'Accept-Ranges': 'bytes',
    'Cache-Control': 'no-store',
  };
  const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
  if (range && (range[1] || range[2])) {
    let start = range[1] ? Number(range[1]) : size - Number(range[2]);
    let end = range[1] && range[2] ? Number(range[2]) : size - 1;
    start = Math.max(0, start);
    end = Math.min(end, size - 1);
    if (start > end) {
      res.writeHead(416, { ...headers, 'Content-Range': `bytes */${size}` }).end();
      return;
    }
    res.writeHead(206, { ...headers, 'Content-Length': end - start + 1, 'Content-Range': `bytes ${start}-${end}/${size}` });
    if (req.method === 'HEAD') return void res.end();
    createReadStream(path, { start, end }).pipe(res);
    return;
  }
  res.writeHead(200, { ...headers, 'Content-Length': size });
  if (req.method === 'HEAD') return void res.end();
  createReadStream(path).pipe(res);
}

export async function startBenchServer(): Promise<BenchServer> {
  const models = new Map<string, string>();
  const requests: string[] = [];
  const routes: Plugin = {
    name: 'hearth-bench-routes',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const url = new URL(req.url ?? '/', 'http://x');
        requests.push(url.pathname);
        let m = /^\/bench-models\/([^/]+)$/.exec(url.pathname);
        if (m) {
          const path = models.get(decodeURIComponent(m[1]!));
          if (!path) return void res.writeHead(404, ISOLATION).end();
          return sendFile(req, res, path);
        }
        m = /^\/peers\/(ort|wllama|wllama2)\/(.+)$/.exec(url.pathname);
        if (m) {
          const base = PEERS[m[1]!]!;
          const path = normalize(join(base, decodeURIComponent(m[2]!)));
          if (!path.startsWith(base) || !existsSync(path)) return void res.writeHead(404, ISOLATION).end();
          return sendFile(req, res, path);
        }
        next();
      });
    },
  };
  const vite: ViteDevServer = await createServer({
    root: ROOT,
    logLevel: 'error',
    configFile: false,
    plugins: [routes],
    server: { host: '127.0.0.1', port: 0, headers: ISOLATION, hmr: false, watch: null },
    optimizeDeps: { include: ['onnx-proto'], entries: ['bench/browser/bench.html'] },
  });
  await vite.listen();
  const origin = new URL(vite.resolvedUrls!.local[0]!).origin;
  return {
    origin,
    requests,
    addModel(name, path) {
      models.set(name, path);
      return `${origin}/bench-models/${encodeURIComponent(name)}`;
    },
    close: () => vite.close(),
  };
}
