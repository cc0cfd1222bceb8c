/**
 * Loading @mlc-ai/web-xgrammar (XGrammar compiled to wasm, the grammar engine WebLLM uses), in
 * bundles and in Node alike.
 *
 * The package ships one UMD file with its wasm inlined as base64 (nothing is fetched), under
 * "type": "module". Bundlers (Vite/esbuild/rollup) read it as CommonJS and import it fine; Node's
 * own ESM loader cannot run it (it calls require), so in Node the same file is evaluated as
 * CommonJS with a real require.
 *
 * XGrammar reports a bad grammar or schema by printing "[FATAL] file:line: message" and aborting
 * the call. Its printer is bound to console.error when the wasm starts, so we start it with a
 * forwarding console.error in place and read the message back for our typed errors.
 */
import type * as XG from '@mlc-ai/web-xgrammar';

export type XGrammar = typeof XG;

let loading: Promise<XGrammar> | null = null;
/** Where xgrammar's prints go: captured while a call that may fail runs, else console.error. */
let capture: string[] | null = null;

async function importBundled(): Promise<XGrammar | null> {
  try {
    const m = (await import('@mlc-ai/web-xgrammar')) as XGrammar & { default?: XGrammar };
    if (typeof m.GrammarCompiler === 'function') return m;
    if (m.default && typeof m.default.GrammarCompiler === 'function') return m.default;
  } catch {
    // Node's ESM loader: see above
  }
  return null;
}

async function importInNode(): Promise<XGrammar> {
  const nodeModule = 'node:module';
  const nodeFs = 'node:fs';
  const { createRequire } = (await import(/* @vite-ignore */ nodeModule)) as typeof import('node:module');
  const { readFileSync } = (await import(/* @vite-ignore */ nodeFs)) as typeof import('node:fs');
  const require = createRequire(import.meta.url);
  const file = require.resolve('@mlc-ai/web-xgrammar');
  const mod: { exports: Record<string, unknown> } = { exports: {} };
  // its Node path imports 'module' dynamically, which code made by new Function may not do (vitest's VM): require it
  const text = readFileSync(file, 'utf8').replace(/await import\((['"])module\1\)/g, "require('module')");
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- the package's own file, run as the CommonJS it is
  new Function('exports', 'module', 'require', '__filename', '__dirname', text)(mod.exports, mod, require, file, file.replace(/[/\\][^/\\]*$/, ''));
  return mod.exports as unknown as XGrammar;
}

/** The library, started once (the wasm instantiates on the first call). */
export function loadXGrammar(): Promise<XGrammar> {
  loading ??= (async () => {
    const xg = (await importBundled()) ?? (await importInNode());
    const original = console.error;
    console.error = (...args: unknown[]) => {
      if (capture) capture.push(args.map(String).join(' '));
      else original.apply(console, args);
    };
    try {
      // the first async call instantiates the wasm, binding its printer to our console.error
      (await xg.TokenizerInfo.createTokenizerInfo([''], 'raw', false, 1)).dispose();
    } finally {
      console.error = original;
    }
    return xg;
  })();
  loading.catch(() => {
    loading = null;
  });
  return loading;
}

/**
 * Runs an xgrammar call that may abort; a failure becomes `onError(message)` with xgrammar's own
 * message (its "[FATAL] file:line:" prefix dropped).
 */
export async function xgrammarCall<T>(call: () => Promise<T> | T, onError: (message: string) => Error): Promise<T> {
  const lines: string[] = [];
  const outer = capture;
  capture = lines;
  try {
    return await call();
  } catch (e) {
    const fatal = lines.find((l) => l.includes('[FATAL]')) ?? lines.find((l) => !/^Aborted\(/.test(l)) ?? (e instanceof Error ? e.message : String(e));
    throw onError(fatal.replace(/^.*\[FATAL\]\s*[^:]*:\d+:\s*/, '').trim());
  } finally {
    capture = outer;
  }
}
