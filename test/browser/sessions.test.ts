/**
 * engine.sessions in headless Chromium (SwiftShader WebGPU), through the public API: the engine
 * in its Web Worker, sessions in OPFS written through sync access handles. stories260K comes from
 * a local Hub endpoint (and then from the weight cache).
 *
 *  - Several turns, a page reload, and the next turn: it prefills only the new tokens, and its
 *    greedy ids equal those of a session that was never interrupted.
 *  - The worker killed (worker.terminate()) in the middle of a session write, at many points:
 *    every reopen finds a complete session, nothing earlier lost, and it continues exactly.
 *  - Model mismatch, encryption at rest, export/import, delete.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type ViteDevServer } from 'vite';
import type { BrowserContext, Page } from 'playwright';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchPersistentChromium } from '../helpers/browser.js';
import { startHubServer, type HubServer } from '../helpers/hub-server.js';
import { rng } from '../helpers/random.js';
import { STORIES } from '../helpers/stories.js';
import type { ChatMessage, Session, SessionInfo, SessionListEntry, SessionTurnInfo } from '../../src/index.js';

let hub: HubServer;
let vite: ViteDevServer;
let context: BrowserContext;
let profile: string;
let pageUrl: string;
let endpoint: string;

type Api = Record<string, (...args: unknown[]) => Promise<unknown>>;
const call = <T>(page: Page, fn: string, ...args: unknown[]): Promise<T> =>
  page.evaluate(([f, a]) => ((window as unknown as { hearthTest: Api }).hearthTest[f as string]!)(...(a as unknown[])), [fn, args] as const) as Promise<T>;

interface Turn {
  ok: boolean;
  content: string;
  ids: number[];
  promptIds: number[];
  promptTokens: number;
  cachedTokens: number;
  prefilled: number;
  reused: number;
  ttftMs: number;
  session: SessionTurnInfo;
  error?: { code: string; message: string };
}
type Got = { ok: true; session: Session; list?: SessionListEntry[] } | { ok: false; error: { code: string; message: string } };

beforeAll(async () => {
  hub = await startHubServer({ files: { 'tinyllamas/stories260K/stories260K.gguf': readFileSync(STORIES) } });
  vite = await createServer({
    root: process.cwd(),
    logLevel: 'error',
    configFile: false,
    // no HMR: a page reloaded by a file change mid-test would lose its engine; the workers' npm
    // imports are bundled up front, since finding them late also reloads the page
    server: { host: '127.0.0.1', port: 0, hmr: false, proxy: { '/hub': { target: hub.url, rewrite: (p) => p.replace(/^\/hub/, '') } } },
    optimizeDeps: { entries: ['test/browser/pages/sessions.html'], include: ['comlink', '@huggingface/jinja', '@huggingface/tokenizers'] },
  });
  await vite.listen();
  const base = vite.resolvedUrls!.local[0]!;
  pageUrl = `${base}test/browser/pages/sessions.html`;
  endpoint = `${new URL(base).origin}/hub`;
  profile = mkdtempSync(join(tmpdir(), 'hearth-sessions-profile-'));
  context = await launchPersistentChromium(profile);
});

afterAll(async () => {
  await context?.close();
  await vite?.close();
  await hub?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

async function openPage(): Promise<Page> {
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' || process.env.HEARTH_DEBUG) console.log('[page]', m.text());
  });
  page.on('pageerror', (e) => console.log('[page error]', e.message));
  page.on('response', (r) => {
    if (r.status() >= 400) console.log('[page]', r.status(), r.url());
  });
  await page.goto(pageUrl);
  await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
  return page;
}

async function load(page: Page, extra: Record<string, unknown> = {}): Promise<void> {
  const r = await call<{ ok: boolean; error?: { message: string } }>(page, 'load', { endpoint, ...extra });
  if (!r.ok) throw new Error(`load failed: ${r.error?.message}`);
}

const USER = ['Once upon a time', 'The cat sat on the mat.', 'Lily was happy.', 'They went home.'];

describe('sessions in the browser', () => {
  let sessionId: string;

  it('several turns, a reload, and the next turn prefills only the new tokens with the same greedy ids as an uninterrupted session', async () => {
    let page = await openPage();
    await load(page);
    const s = await call<SessionInfo>(page, 'create');
    sessionId = s.id;
    let stored = 0;
    for (const u of USER.slice(0, 3)) {
      const t = await call<Turn>(page, 'turn', s.id, u);
      expect(t.reused).toBe(stored);
      expect(t.prefilled).toBe(t.promptTokens - stored);
      stored = t.session.storedTokens;
    }
    // the uninterrupted reference: the same four turns in one go, in another session
    const ref = await call<SessionInfo>(page, 'create');
    for (const u of USER.slice(0, 3)) await call<Turn>(page, 'turn', ref.id, u);
    const want = await call<Turn>(page, 'turn', ref.id, USER[3]);

    await page.close();
    page = await openPage();
    await load(page);
    const listed = await call<SessionListEntry[]>(page, 'list');
    expect(listed.map((x) => x.id)).toEqual(expect.arrayContaining([s.id, ref.id]));
    const before = await call<Got>(page, 'get', s.id);
    expect(before.ok && before.session.messages.length).toBe(6);
    expect(before.ok && before.session.storedTokens).toBe(stored);
    const got = await call<Turn>(page, 'turn', s.id, USER[3]);
    expect(got.session.restoredTokens).toBe(stored);
    expect(got.reused).toBe(stored);
    expect(got.cachedTokens).toBe(stored);
    expect(got.prefilled).toBe(got.promptTokens - stored);
    expect(got.prefilled).toBe(want.prefilled);
    expect(got.promptIds).toEqual(want.promptIds);
    expect(got.ids).toEqual(want.ids);
    console.log(
      `after reload: ${got.promptTokens} prompt tokens, ${got.session.restoredTokens} restored from OPFS in ${got.session.restoreMs.toFixed(1)} ms, ${got.prefilled} prefilled (uninterrupted: ${want.prefilled}); ` +
        `ttft ${got.ttftMs.toFixed(0)} ms (uninterrupted ${want.ttftMs.toFixed(0)} ms); turn written in ${got.session.persistMs.toFixed(1)} ms, ${got.session.bytesWritten} bytes`,
    );

    // streaming adds up; the page itself (no worker, no model) reads the same session
    const st = await call<{ text: string; session: SessionTurnInfo }>(page, 'streamTurn', s.id, 'The end.', 6);
    expect(st.session.storedTokens).toBeGreaterThan(stored);
    const fromPage = await call<Got>(page, 'pageGet', s.id);
    expect(fromPage.ok && fromPage.session.messages[9]!.content).toBe(st.text);
    await page.close();
  });

  it('a different model identity (the same file at dtype q8_0) is refused with SESSION_MODEL_MISMATCH', async () => {
    const page = await openPage();
    await load(page, { dtype: 'q8_0' });
    const listed = await call<SessionInfo[]>(page, 'list');
    expect(listed.find((x) => x.id === sessionId)?.compatible).toBe(false);
    const t = await call<Turn>(page, 'turn', sessionId, 'Hello.');
    expect(t.ok).toBe(false);
    expect(t.error!.code).toBe('SESSION_MODEL_MISMATCH');
    await call(page, 'unload');
    await page.close();
  });

  it('the worker killed mid-write, at many points: every reopen is a complete session, nothing earlier is lost, and it continues exactly', { timeout: 900_000 }, async () => {
    const t0 = Date.now();
    const log = (m: string) => process.env.HEARTH_DEBUG && console.log(`${((Date.now() - t0) / 1000).toFixed(1)}s ${m}`);
    const page = await openPage();
    await load(page);
    const base = await call<SessionInfo>(page, 'create', 'crash');
    for (const u of USER.slice(0, 2)) await call<Turn>(page, 'turn', base.id, u);
    const history = ((await call<Got>(page, 'get', base.id)) as { session: Session }).session.messages;
    await call(page, 'unload');

    // small pieces and a pause after each: the page stops the worker right after a chosen piece
    const crash = { piece: 512, pause: 10 };
    type Trial = { killed: boolean; completed: boolean; writes: string[]; last: string | null };
    const EDITS = ['Lily was happy.', 'They went home.', 'The dog ran.'];
    const edit = (k: number): ChatMessage[] => [...history, { role: 'user', content: EDITS[k]! }];
    // each edited turn once, whole, for its reply
    const replies: string[] = [];
    for (let k = 0; k < EDITS.length; k++) {
      const r = await call<Trial>(page, 'crashTrial', { endpoint, crash, id: base.id, messages: edit(k) });
      expect(r.completed).toBe(true);
      const got = (await call<Got>(page, 'pageGet', base.id)) as { session: Session };
      replies.push(got.session.messages[history.length + 1]!.content);
    }

    const random = rng(11);
    const TRIALS = 24;
    let state = (await call<Got>(page, 'pageGet', base.id)) as { session: Session };
    const tally = { kept: 0, written: 0, recovered: 0, killed: 0, inChunk: 0, inManifest: 0, afterManifest: 0 };
    for (let trial = 0; trial < TRIALS; trial++) {
      const k = trial % EDITS.length;
      // a third of the kills inside the KV chunk (or right after it), a third inside the manifest, a third right after its last byte
      const phase = Math.floor(trial / EDITS.length) % 3;
      const kill = phase === 0 ? { file: 'k', at: random() } : phase === 1 ? { file: 'm', at: 0.05 + 0.9 * random() } : { file: 'm', at: 1 };
      const r = await call<Trial>(page, 'crashTrial', { endpoint, crash, id: base.id, messages: edit(k), kill });
      log(`trial ${trial}: killed ${r.killed} after ${r.last}`);
      if (r.killed) tally.killed++;
      if (r.last?.startsWith('k-')) tally.inChunk++;
      else if (r.last && /^m-\d+:(\d+)\/\1$/.test(r.last)) tally.afterManifest++;
      else tally.inManifest++;
      // reopen from the page itself (no worker, no model): a complete state, the one before or the new one
      const got = await call<Got>(page, 'pageGet', base.id);
      if (!got.ok) throw new Error(`trial ${trial}: ${got.error.code} ${got.error.message}`);
      const now = got.session;
      const written = now.generation > state.session.generation;
      const want = written ? [...edit(k), { role: 'assistant', content: replies[k]! }] : state.session.messages;
      expect(now.messages, `trial ${trial}, killed after ${r.last}`).toEqual(want);
      expect(now.messages.slice(0, history.length)).toEqual(history);
      expect(['ok', 'recovered']).toContain(now.status);
      if (now.status === 'recovered') tally.recovered++;
      tally[written ? 'written' : 'kept']++;
      state = got as { session: Session };
    }
    console.log(
      `worker-kill trials: ${TRIALS} (after ${EDITS.length} whole calibration turns), pieces of 512 B; killed mid-write ${tally.killed} ` +
        `(inside the KV chunk ${tally.inChunk}, inside the manifest ${tally.inManifest}, right after the manifest's last byte ${tally.afterManifest}); ` +
        `reopened complete every time: with the turn before ${tally.kept}, with the new turn whole ${tally.written}; shown as recovered (torn newer manifest) ${tally.recovered}`,
    );
    expect(tally.killed).toBe(TRIALS);
    expect(tally.written).toBeGreaterThan(0);
    expect(tally.kept).toBeGreaterThan(0);

    // after all that: resume in a normal engine and continue exactly as a fresh session of the same messages
    await load(page);
    const fresh = await call<SessionInfo>(page, 'create', 'fresh', state.session.messages);
    const wantNext = await call<Turn>(page, 'turn', fresh.id, 'The sun was hot.');
    expect(wantNext.reused).toBe(0);
    // a new engine: the crashed-into session's KV can only come from OPFS
    await call(page, 'unload');
    await load(page);
    const gotNext = await call<Turn>(page, 'turn', base.id, 'The sun was hot.');
    expect(gotNext.ok).toBe(true);
    expect(gotNext.ids).toEqual(wantNext.ids);
    expect(gotNext.session.restoredTokens).toBe(state.session.storedTokens);
    expect(gotNext.reused).toBe(state.session.storedTokens);
    await call(page, 'remove', fresh.id);
    await call(page, 'unload');
    await page.close();
  });

  it('encrypts at rest with the app key, export/import round trip, and delete removes every file', async () => {
    let page = await openPage();
    await call(page, 'newKey');
    await load(page, { encrypted: true });
    const s = await call<SessionInfo>(page, 'create', 'diary');
    await call<Turn>(page, 'turn', s.id, 'The purple elephant sang.');
    const files = (await call<Record<string, { name: string; plaintext: boolean; kind: number }[]>>(page, 'opfs', 'purple elephant'))[s.id]!;
    expect(files.length).toBeGreaterThanOrEqual(2);
    expect(files.every((f) => !f.plaintext && f.kind === 1)).toBe(true);
    // without the key the page cannot read it; with it, it can
    expect(((await call<Got>(page, 'pageGet', s.id)) as { error: { code: string } }).error.code).toBe('INVALID_ARGUMENT');
    expect(((await call<Got>(page, 'pageGet', s.id, true)) as { session: Session }).session.title).toBe('diary');

    const ex = await call<{ size: number }>(page, 'exportSession', s.id);
    expect(ex.size).toBeGreaterThan(1000);
    const imported = await call<SessionInfo>(page, 'importExported');
    expect(imported.id).not.toBe(s.id);
    expect(imported.encrypted).toBe(true);
    await page.close();
    page = await openPage();
    await load(page, { encrypted: true });
    const t = await call<Turn>(page, 'turn', imported.id, 'They went home.');
    expect(t.session.restoredTokens).toBe(imported.storedTokens);

    for (const id of [s.id, imported.id, sessionId]) await call(page, 'remove', id);
    const left = await call<Record<string, unknown[]>>(page, 'opfs');
    for (const id of [s.id, imported.id, sessionId]) expect(left[id]).toBeUndefined();
    expect(((await call<Got>(page, 'get', s.id)) as { error: { code: string } }).error.code).toBe('SESSION_NOT_FOUND');
    await call(page, 'unload');
    await page.close();
  });
});
