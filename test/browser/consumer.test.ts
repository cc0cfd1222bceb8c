/**
 * The package as someone who is not us gets it: `npm pack` the repo (prepack builds it), install
 * the tarball into a fresh app made from test/consumer/ as a consumer would (npm install, the npm
 * cache first, the npm registry for whatever it lacks: a fresh machine's cache holds the tarballs
 * `npm ci` fetched but none of the registry metadata `npm install` resolves ranges with), type-check
 * the app against the packed declarations, build it with Vite, open it in headless Chromium and
 * stream stories260K's known greedy output; then run the packed CLI from node_modules/.bin.
 * Everything is built under os.tmpdir() and removed afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { preview, type PreviewServer } from 'vite';
import type { BrowserContext, Page } from 'playwright';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchPersistentChromium } from '../helpers/browser.js';
import { startHubServer, type HubServer } from '../helpers/hub-server.js';
import { KNOWN_IDS, KNOWN_TEXT, STORIES } from '../helpers/stories.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const TEMPLATE = join(REPO, 'test', 'consumer');
const exec = promisify(execFile);

let work: string;
let app: string;
let hub: HubServer | undefined;
let server: PreviewServer | undefined;
let context: BrowserContext | undefined;
const requests: string[] = [];

/** Run a command; on failure, the error carries what it printed. */
async function sh(cmd: string, args: string[], cwd: string, timeout = 120_000): Promise<string> {
  try {
    const { stdout } = await exec(cmd, args, { cwd, timeout, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (e) {
    const x = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd}:\n${x.message}\n${x.stdout ?? ''}\n${x.stderr ?? ''}`);
  }
}

const timings: Record<string, number> = {};
async function step<T>(name: string, run: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await run();
  } finally {
    timings[name] = Math.round(performance.now() - t0);
  }
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'hearth-consumer-'));
  app = join(work, 'app');
});

afterAll(async () => {
  await context?.close();
  await server?.close();
  await hub?.close();
  if (work) rmSync(work, { recursive: true, force: true });
  console.log(`consumer test steps (ms): ${JSON.stringify(timings)}`);
});

describe('the packed package in a consumer app', () => {
  let page: Page;

  it('packs (prepack runs the build) and installs into a fresh app with npm install', async () => {
    await step('pack', () => sh('npm', ['pack', '--pack-destination', work, '--silent'], REPO, 150_000));
    const tarball = readdirSync(work).find((f) => /^hearth-.*\.tgz$/.test(f));
    expect(tarball, 'npm pack left no hearth-*.tgz').toBeDefined();

    mkdirSync(app);
    for (const f of readdirSync(TEMPLATE)) if (f !== 'package.json.template') cpSync(join(TEMPLATE, f), join(app, f));
    const pkg = readFileSync(join(TEMPLATE, 'package.json.template'), 'utf8').replace('__HEARTH_TARBALL__', join(work, tarball!));
    writeFileSync(join(app, 'package.json'), pkg);
    // --prefer-offline: what the cache holds is used as it is; only the rest (on a fresh machine,
    // the packages' metadata) comes from the npm registry, the one place the machines may reach
    await step('install', () =>
      sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund'], app, 240_000).catch((e: Error) => {
        throw new Error(`npm install of the packed package failed (it needs the npm cache or the npm registry).\n${e.message}`);
      }),
    );

    const pkgDir = join(app, 'node_modules', 'hearth');
    for (const f of ['dist/index.js', 'dist/worker.js', 'dist/node.js', 'dist/cli.js', 'dist/types/index.d.ts', 'dist/types/node.d.ts', 'bin/hearth.js']) {
      expect(existsSync(join(pkgDir, f)), `${f} in the packed package`).toBe(true);
    }
    expect(existsSync(join(pkgDir, 'src')), 'sources stay out of the package').toBe(false);
    // the worker is a relative module URL next to the entry, which consumers' bundlers follow
    expect(readFileSync(join(pkgDir, 'dist/index.js'), 'utf8')).toMatch(/new Worker\(new URL\("\.\/worker\.js", import\.meta\.url\)/);
    // WGSL is in the bundles, not fetched: shader code is there and no file refers to a .wgsl URL
    const worker = readFileSync(join(pkgDir, 'dist/worker.js'), 'utf8');
    expect(worker).toContain('@compute');
    expect(worker).not.toMatch(/(fetch|new URL)\([^)]*\.wgsl/);

    // the Node entry resolves through the exports map of the installed package
    const exported = await sh(process.execPath, ['--input-type=module', '-e', "const m = await import('hearth/node'); console.log(typeof m.createEngine)"], app);
    expect(exported.trim()).toBe('function');
  }, 420_000);

  it("type-checks the app's main.ts and node.ts against the packed declarations", async () => {
    const tsc = join(app, 'node_modules', '.bin', 'tsc');
    // as Vite's template sets it up (skipLibCheck), and with every hearth declaration checked
    await step('tsc', () => sh(tsc, ['-p', 'tsconfig.json'], app));
    await step('tsc strict', () => sh(tsc, ['-p', 'tsconfig.strict.json'], app));
  });

  it('builds with Vite and streams the known greedy completion in headless Chromium', async () => {
    await step('vite build', () => sh(join(app, 'node_modules', '.bin', 'vite'), ['build', '--logLevel', 'warn'], app));
    const assets = readdirSync(join(app, 'dist', 'assets'));
    expect(assets.some((f) => /^worker-.*\.js$/.test(f)), `the worker is its own chunk in the app's build: ${assets.join(', ')}`).toBe(true);

    hub = await startHubServer({ files: { 'stories260K.gguf': readFileSync(STORIES) } });
    const target = hub.url;
    // the model comes from the page's own origin, as an app would host it next to its files
    server = await preview({
      root: app,
      configFile: false,
      logLevel: 'error',
      preview: { host: '127.0.0.1', port: 0, proxy: { '/models': { target, rewrite: (p) => p.replace(/^\/models/, '/files') } } },
    });
    const origin = new URL(server.resolvedUrls!.local[0]!).origin;

    const profile = join(work, 'profile');
    context = await launchPersistentChromium(profile);
    context.on('request', (r) => requests.push(r.url()));
    page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') console.log('[consumer page]', m.text());
    });
    page.on('pageerror', (e) => console.log('[consumer page error]', e.message));
    await page.goto(`${origin}/?model=/models/stories260K.gguf`);
    await page.waitForFunction(() => 'consumer' in window);

    type Consumer = Record<string, (...a: unknown[]) => Promise<unknown>>;
    const call = <T>(fn: string, ...args: unknown[]): Promise<T> =>
      page.evaluate(([f, a]) => (window as unknown as { consumer: Consumer }).consumer[f as string]!(...(a as unknown[])), [fn, args] as const) as Promise<T>;

    const load = await step('load in Chromium', () => call<{ ok: boolean; contextLength?: number; error?: unknown }>('load'));
    expect(load, JSON.stringify(load)).toMatchObject({ ok: true, contextLength: 256 });

    const r = await step('stream 48 tokens', () => call<{ text: string; ids: number[]; chunks: number }>('complete', KNOWN_IDS.length));
    expect(r.ids).toEqual(KNOWN_IDS);
    expect(r.text).toBe(KNOWN_TEXT);
    expect(r.chunks).toBeGreaterThan(10);

    const chat = await step('chat', () => call<{ content: string; finishReason: string | null }>('chat', 'Tell me a story.', 8));
    expect(chat.content.length).toBeGreaterThan(0);
    expect(['length', 'stop']).toContain(chat.finishReason);
    expect(await call<number>('unload')).toBe(0);

    expect(hub.count('/files/stories260K.gguf')).toBeGreaterThan(0);

    // an app that starts hearth's worker itself (hearth/worker through Vite's ?worker import),
    // after a reload: the weights come from the browser's cache
    await page.close();
    hub.reset();
    page = await context.newPage();
    await page.goto(`${origin}/?model=/models/stories260K.gguf&own-worker`);
    await page.waitForFunction(() => 'consumer' in window);
    const again = await step('load with own worker', () => call<{ ok: boolean; phases?: string[] }>('load'));
    expect(again, JSON.stringify(again)).toMatchObject({ ok: true });
    expect(again.phases).toContain('cache');
    expect(hub.count()).toBe(0);
    expect((await call<{ ids: number[] }>('complete', 8)).ids).toEqual(KNOWN_IDS.slice(0, 8));
    await call('unload');

    // the workers came from the app's own build, and every request stayed on the app's origin
    expect(requests.some((u) => /\/assets\/worker-[^/]*\.js$/.test(u))).toBe(true);
    expect(requests.filter((u) => /\.wgsl(\?|$)/.test(u))).toEqual([]);
    expect(requests.filter((u) => !u.startsWith(`${origin}/`))).toEqual([]);
  });

  it('runs the packed CLI from node_modules/.bin', async () => {
    if (!existsSync(join(app, 'node_modules', 'webgpu'))) {
      console.log('SKIPPED the CLI check: the optional dependency `webgpu` could not be installed');
      return;
    }
    const out = await step('cli', () =>
      sh(join(app, 'node_modules', '.bin', 'hearth'), ['generate', '--model', STORIES, '--prompt-ids', '1', '--max-tokens', '8', '--temperature', '0', '--json'], app),
    );
    const r = JSON.parse(out) as { ids: number[]; finish_reason: string };
    expect(r.ids).toEqual(KNOWN_IDS.slice(0, 8));
    expect(r.finish_reason).toBe('length');
  });
});
