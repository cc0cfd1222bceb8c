// Builds and serves the demo (a static site), plus local model files given on the command line,
// so the demo works with no network: `npm run demo` serves SmolLM2-135M-Instruct (scripts/models.mjs
// defaultModels()), `npm run demo -- --model ../shared/models/stories260K/stories260K.gguf` other files.
// Local models are served under /local-models/<name> (with HTTP Range) and listed at
// /local-models/index.json, which the chat page reads to offer them.
import { build, preview, createServer } from 'vite';
import { createReadStream, existsSync, statSync, readdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const configFile = join(root, 'demo', 'vite.config.ts');

/** name -> absolute path of each file to serve (a folder contributes its files). */
function collectModels(paths) {
  const models = [];
  for (const p of paths) {
    const abs = resolve(p);
    if (!existsSync(abs)) throw new Error(`--model ${p}: no such file or folder`);
    if (statSync(abs).isDirectory()) {
      const name = basename(abs);
      const files = readdirSync(abs).filter((f) => statSync(join(abs, f)).isFile());
      models.push({ name, kind: 'folder', files: Object.fromEntries(files.map((f) => [`${name}/${f}`, join(abs, f)])), entry: `${name}/` });
    } else {
      const name = basename(abs);
      models.push({ name, kind: 'file', files: { [name]: abs }, entry: name });
    }
  }
  return models;
}

function modelMiddleware(models) {
  const byPath = new Map(models.flatMap((m) => Object.entries(m.files)));
  return (req, res, next) => {
    const url = new URL(req.url, 'http://x');
    if (!url.pathname.startsWith('/local-models/')) return next();
    const rel = decodeURIComponent(url.pathname.slice('/local-models/'.length));
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Cache-Control', 'no-cache');
    if (rel === 'index.json') {
      const list = models.map((m) => ({
        name: m.name,
        kind: m.kind,
        url: `/local-models/${m.entry}`,
        files: Object.keys(m.files).map((f) => ({ name: f.slice(m.kind === 'folder' ? m.name.length + 1 : 0), size: statSync(m.files[f]).size })),
        bytes: Object.values(m.files).reduce((s, f) => s + statSync(f).size, 0),
      }));
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify(list));
      return;
    }
    const file = byPath.get(rel);
    if (!file) {
      res.statusCode = 404;
      res.end('not found');
      return;
    }
    const size = statSync(file).size;
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('Content-Type', 'application/octet-stream');
    res.setHeader('ETag', `"${size}-${Math.floor(statSync(file).mtimeMs)}"`);
    const m = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
    if (m && (m[1] || m[2])) {
      let start = m[1] ? Number(m[1]) : size - Number(m[2]);
      let end = m[1] && m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
      if (!m[1]) start = Math.max(0, start);
      if (start >= size || start > end) {
        res.statusCode = 416;
        res.setHeader('Content-Range', `bytes */${size}`);
        res.end();
        return;
      }
      res.statusCode = 206;
      res.setHeader('Content-Range', `bytes ${start}-${end}/${size}`);
      res.setHeader('Content-Length', String(end - start + 1));
      if (req.method === 'HEAD') return res.end();
      createReadStream(file, { start, end }).pipe(res);
      return;
    }
    res.setHeader('Content-Length', String(size));
    if (req.method === 'HEAD') return res.end();
    createReadStream(file).pipe(res);
  };
}

/**
 * Start the demo. `dev`: Vite's dev server (hot reload); otherwise build, then serve the build.
 * Returns { url, close }.
 */
export async function startDemo({ models = [], port = 5173, host = '127.0.0.1', dev = false, skipBuild = false, quiet = false } = {}) {
  const list = collectModels(models);
  const plugin = {
    name: 'hearth-local-models',
    configureServer(server) {
      server.middlewares.use(modelMiddleware(list));
    },
    configurePreviewServer(server) {
      server.middlewares.use(modelMiddleware(list));
    },
  };
  const logLevel = quiet ? 'error' : 'info';
  if (dev) {
    const server = await createServer({ configFile, plugins: [plugin], logLevel, server: { port, host, strictPort: port !== 0 } });
    await server.listen();
    return { url: server.resolvedUrls.local[0], close: () => server.close() };
  }
  if (!skipBuild || !existsSync(join(root, 'demo', 'dist', 'index.html'))) await build({ configFile, logLevel: quiet ? 'error' : 'warn' });
  const server = await preview({ configFile, plugins: [plugin], logLevel, preview: { port, host, strictPort: port !== 0 } });
  return { url: server.resolvedUrls.local[0], close: () => new Promise((r) => server.httpServer.close(r)) };
}
