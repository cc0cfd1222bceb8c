/**
 * engine.sessions on the real stories260K model in Node (Dawn): multi-turn chat that prefills
 * only the newest turn, resume after a restart with zero re-prefill and the same greedy ids,
 * edits and regeneration cutting the stored KV, model identity, corruption, quota, encryption,
 * export/import and delete, on the in-memory and the on-disk stores.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveModelSource } from '../../src/hub/resolve.js';
import type { Engine } from '../../src/engine/engine.js';
import { isHearthError, type HearthError } from '../../src/errors.js';
import { Sessions, type SessionsOptions } from '../../src/sessions/sessions.js';
import { MemorySessionStore, type SessionStore } from '../../src/sessions/store.js';
import { NodeSessionStore } from '../../src/sessions/store-node.js';
import type { SessionChatCompletion, SessionChatChunk } from '../../src/sessions/types.js';
import { createEngine } from '../../src/node.js';
import { engineFor } from '../helpers/models.js';
import { testGpu } from '../helpers/gpu.js';
import { STORIES } from '../helpers/stories.js';

let engine: Engine;
let dir: string;
beforeAll(async () => {
  engine = await engineFor(await resolveModelSource(STORIES), 256);
  dir = mkdtempSync(join(tmpdir(), 'hearth-sessions-'));
});
afterAll(async () => {
  await engine?.unload();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const USER = ['Once upon a time', 'The cat sat on the mat.', 'Lily was happy.', 'They went home.', 'The sun was hot.'];
const greedy = { temperature: 0, max_tokens: 10 } as const;

const code = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (e) {
    return isHearthError(e) ? e.code : `not a HearthError: ${String(e)}`;
  }
  return 'no error';
};

function sessions(store: SessionStore = new MemorySessionStore(), opts: Partial<SessionsOptions> = {}): Sessions {
  return new Sessions({ store, engine: () => engine, ...opts });
}

/** Wipes the engine's KV cache contents and forgets its prefix, as a fresh page would have. */
async function clobber(): Promise<void> {
  engine.resetCache();
  await engine.generate({ promptIds: [1, 300, 301, 302, 303, 304, 305, 306, 307, 308], maxTokens: 2, sampling: { temperature: 0 } });
  engine.resetCache();
}

describe('multi-turn chat', () => {
  it('prefills only the newest turn: every stored token is reused', async () => {
    const s = sessions();
    const { id } = await s.create();
    let stored = 0;
    for (const [i, u] of USER.slice(0, 4).entries()) {
      const r = await s.chat(id, { message: u, ...greedy });
      expect(r.usage.prompt_tokens_details.cached_tokens).toBe(stored);
      expect(r.hearth.reused_tokens).toBe(stored);
      expect(r.hearth.prefilled_tokens).toBe(r.usage.prompt_tokens - stored);
      // after the first turn: the last reply's final token, a '\n', the new message and a '\n'
      if (i > 0) expect(r.hearth.prefilled_tokens).toBeLessThan(20);
      expect(r.session.restoredTokens).toBe(0);
      stored = r.session.storedTokens;
      expect(stored).toBe(r.usage.prompt_tokens + r.usage.completion_tokens - 1);
    }
    const got = await s.get(id);
    expect(got.messages.length).toBe(8);
    expect(got.messages[1]!.role).toBe('assistant');
    expect(got.storedTokens).toBe(stored);
    expect(got.title).toBe('Once upon a time');
    expect(got.compatible).toBe(true);
  });

  it('after a restart (new store object, engine cache wiped), resumes with zero re-prefill and the same greedy ids', async () => {
    const root = join(dir, 'resume');
    const a = sessions(new NodeSessionStore(root));
    const { id } = await a.create({ title: 'resume' });
    for (const u of USER.slice(0, 3)) await a.chat(id, { message: u, ...greedy });
    // the uninterrupted reference: the same conversation, never interrupted
    const ref = sessions();
    const { id: refId } = await ref.create();
    for (const u of USER.slice(0, 3)) await ref.chat(refId, { message: u, ...greedy });
    const want = await ref.chat(refId, { message: USER[3]!, ...greedy });

    await clobber();
    const b = sessions(new NodeSessionStore(root));
    const listed = await b.list();
    expect(listed.map((x) => x.id)).toEqual([id]);
    const before = await b.get(id);
    const got = await b.chat(id, { message: USER[3]!, ...greedy });
    expect(got.session.restoredTokens).toBe(before.storedTokens);
    expect(got.hearth.reused_tokens).toBe(before.storedTokens);
    expect(got.hearth.prefilled_tokens).toBe(got.usage.prompt_tokens - before.storedTokens);
    expect(got.hearth.prefilled_tokens).toBe(want.hearth.prefilled_tokens);
    expect(got.hearth.ids).toEqual(want.hearth.ids);
    expect(got.hearth.prompt_ids).toEqual(want.hearth.prompt_ids);
    console.log(`resume after restart: ${got.usage.prompt_tokens} prompt tokens, ${before.storedTokens} restored from disk in ${got.session.restoreMs.toFixed(1)} ms, ${got.hearth.prefilled_tokens} prefilled`);
  });

  it('streams, and the last chunk carries usage and the session turn', async () => {
    const s = sessions();
    const { id } = await s.create();
    await s.chat(id, { message: USER[0]!, ...greedy });
    const stream = await s.chat(id, { message: USER[1]!, ...greedy, stream: true });
    let text = '';
    let last: SessionChatChunk | undefined;
    for await (const c of stream) {
      text += c.choices[0]!.delta.content ?? '';
      last = c;
    }
    expect(last!.session!.storedTokens).toBeGreaterThan(0);
    expect(last!.usage!.completion_tokens).toBe(10);
    const got = await s.get(id);
    expect(got.messages[3]!.content).toBe(text);
  });

  it('an edited earlier message cuts the stored KV at the first differing token, and continues as a fresh session would', async () => {
    const s = sessions();
    const { id } = await s.create();
    for (const u of USER.slice(0, 3)) await s.chat(id, { message: u, ...greedy });
    const history = (await s.get(id)).messages;
    const edited = [...history.slice(0, 2), { role: 'user', content: 'The dog ran fast.' }];
    const r = await s.chat(id, { messages: edited, ...greedy });
    expect(r.session.truncatedAt).not.toBeNull();
    expect(r.hearth.reused_tokens).toBe(r.session.truncatedAt);
    // from scratch, in a new session with the same conversation
    await clobber();
    const fresh = sessions();
    const { id: fid } = await fresh.create({ messages: edited });
    const f = await fresh.chat(fid, greedy);
    expect(f.hearth.reused_tokens).toBe(0);
    expect(r.hearth.ids).toEqual(f.hearth.ids);
    expect((await s.get(id)).storedTokens).toBe((await fresh.get(fid)).storedTokens);
    expect((await s.get(id)).messages).toEqual((await fresh.get(fid)).messages);
  });

  it('regenerate drops the last reply and generates it again from the stored KV', async () => {
    const s = sessions();
    const { id } = await s.create();
    await s.chat(id, { message: USER[0]!, ...greedy });
    const first = await s.chat(id, { message: USER[1]!, ...greedy });
    await clobber();
    const again = await s.chat(id, { regenerate: true, ...greedy });
    expect(again.hearth.ids).toEqual(first.hearth.ids);
    expect(again.hearth.prefilled_tokens).toBe(1);
    expect(again.session.truncatedAt).toBe(first.usage.prompt_tokens - 1);
    expect((await s.get(id)).messages.length).toBe(4);
  });

  it('rejects bad input with typed errors and stays usable', async () => {
    const s = sessions();
    const { id } = await s.create();
    expect(await code(s.get('nope'))).toBe('SESSION_NOT_FOUND');
    expect(await code(s.get('../etc'))).toBe('INVALID_ARGUMENT');
    expect(await code(s.delete('nope'))).toBe('SESSION_NOT_FOUND');
    expect(await code(s.chat(id, { ...greedy }))).toBe('EMPTY_PROMPT');
    expect(await code(s.chat(id, { regenerate: true, ...greedy }))).toBe('INVALID_ARGUMENT');
    expect(await code(s.chat(id, { messages: [{ role: 'user' } as never] }))).toBe('INVALID_ARGUMENT');
    expect(await code(s.chat(id, { message: 'x', messages: [] }))).toBe('INVALID_ARGUMENT');
    expect(await code(s.chat(id, { message: 'x '.repeat(400), ...greedy }))).toBe('CONTEXT_OVERFLOW');
    expect(await code(s.configure({ kvFormat: 'q4' as never }))).toBe('INVALID_ARGUMENT');
    expect(await code(s.create({ metadata: [] as never }))).toBe('INVALID_ARGUMENT');
    expect(await code(s.import(new Uint8Array([1, 2, 3])))).toBe('SESSION_CORRUPT');
    const ctrl = new AbortController();
    ctrl.abort();
    expect(await code(s.chat(id, { message: 'x', ...greedy }, { signal: ctrl.signal }))).toBe('ABORTED');
    // nothing of the failed turns was stored
    expect((await s.get(id)).messages).toEqual([]);
    const r = await s.chat(id, { message: USER[0]!, ...greedy });
    expect(r.usage.completion_tokens).toBe(10);
  });
});

describe('a stopped reply', () => {
  it('stays in the session with its KV (the call rejects with ABORTED), and the next turn reuses it', async () => {
    const s = sessions();
    const { id } = await s.create();
    const ctrl = new AbortController();
    const seen: string[] = [];
    let err: unknown = null;
    try {
      const stream = await s.chat(id, { message: USER[0]!, ...greedy, max_tokens: 40, stream: true }, { signal: ctrl.signal });
      for await (const c of stream) {
        const t = c.choices[0]?.delta.content;
        if (t) seen.push(t);
        if (seen.length === 4) ctrl.abort();
      }
    } catch (e) {
      err = e;
    }
    expect(isHearthError(err, 'ABORTED')).toBe(true);
    const details = (err as HearthError).details as { session: { storedTokens: number }; text: string };
    expect(details.text).toBe(seen.join(''));
    const got = await s.get(id);
    expect(got.messages).toEqual([
      { role: 'user', content: USER[0] },
      { role: 'assistant', content: seen.join('') },
    ]);
    expect(got.storedTokens).toBe(details.session.storedTokens);
    expect(got.storedTokens).toBeGreaterThan(4);
    // the next turn prefills only what follows the stored tokens
    const next = await s.chat(id, { message: USER[1]!, ...greedy });
    expect(next.hearth.reused_tokens).toBe(got.storedTokens);
    expect(next.hearth.prefilled_tokens).toBe(next.usage.prompt_tokens - got.storedTokens);
  });

  it('keepStopped: false leaves the session as it was', async () => {
    const s = sessions();
    const { id } = await s.create();
    await s.chat(id, { message: USER[0]!, ...greedy });
    const before = await s.get(id);
    const ctrl = new AbortController();
    const stream = await s.chat(id, { message: USER[1]!, ...greedy, max_tokens: 40, stream: true, keepStopped: false }, { signal: ctrl.signal });
    let n = 0;
    const run = (async () => {
      for await (const c of stream) if (c.choices[0]?.delta.content && ++n === 2) ctrl.abort();
    })();
    expect(await code(run)).toBe('ABORTED');
    const after = await s.get(id);
    expect(after.messages).toEqual(before.messages);
    expect(after.storedTokens).toBe(before.storedTokens);
  });
});

describe('the Node entry', () => {
  it('createEngine({ sessions: { dir } }) keeps sessions in the folder; a second engine resumes them', async () => {
    const folder = join(dir, 'node-entry');
    const gpu = await testGpu();
    const a = await createEngine({ model: STORIES, contextLength: 256, gpu, sessions: { dir: folder, kvFormat: 'f16' } });
    const { id } = await a.sessions.create({ title: 'node' });
    await a.sessions.chat(id, { message: USER[0]!, ...greedy });
    const first = await a.sessions.chat(id, { message: USER[1]!, ...greedy });
    expect((await a.sessions.storage()).backend).toBe('node-fs');
    await a.unload();
    const b = await createEngine({ model: STORIES, contextLength: 256, gpu, sessions: { dir: folder } });
    try {
      const got = await b.sessions.get(id);
      expect(got.kvFormat).toBe('f16');
      expect(got.compatible).toBe(true);
      const r = await b.sessions.chat(id, { message: USER[2]!, ...greedy });
      expect(r.session.restoredTokens).toBe(first.session.storedTokens);
      expect(r.hearth.reused_tokens).toBe(first.session.storedTokens);
      expect(readdirSync(join(folder, id)).length).toBeGreaterThanOrEqual(2);
    } finally {
      await b.unload();
    }
  });
});

describe('safety', () => {
  it('a session computed by another model (here: the same file at dtype q8_0) is refused with SESSION_MODEL_MISMATCH', async () => {
    const s = sessions();
    const { id } = await s.create();
    await s.chat(id, { message: USER[0]!, ...greedy });
    const other = await engineFor(await resolveModelSource(STORIES), 256, { dtype: 'q8_0' });
    try {
      expect(other.identity.weights).toBe(engine.identity.weights);
      expect(other.identity.fingerprint).not.toBe(engine.identity.fingerprint);
      const t = new Sessions({ store: (s as unknown as { store: MemorySessionStore }).store, engine: () => other });
      expect((await t.get(id)).compatible).toBe(false);
      let err: unknown;
      try {
        await t.chat(id, { message: USER[1]!, ...greedy });
      } catch (e) {
        err = e;
      }
      expect(isHearthError(err, 'SESSION_MODEL_MISMATCH')).toBe(true);
      expect((err as Error).message).toContain('dtype as-stored vs q8_0');
      expect(await code(t.restore(id))).toBe('SESSION_MODEL_MISMATCH');
      // a new session from its messages is the way to continue on this model
      const { id: nid } = await t.create({ messages: (await t.get(id)).messages });
      expect((await t.chat(nid, { message: USER[1]!, ...greedy })).usage.completion_tokens).toBe(10);
    } finally {
      await other.unload();
    }
  });

  it('a torn newest manifest falls back to the previous complete state; a damaged chunk gives SESSION_CORRUPT until repaired', async () => {
    const root = join(dir, 'corrupt');
    const s = sessions(new NodeSessionStore(root));
    const { id } = await s.create();
    await s.chat(id, { message: USER[0]!, ...greedy });
    const two = await s.chat(id, { message: USER[1]!, ...greedy });
    const folder = join(root, id);
    const names = readdirSync(folder).sort();
    const newest = names.filter((n) => n.startsWith('m-')).pop()!;
    const full = readFileSync(join(folder, newest));
    writeFileSync(join(folder, newest), full.subarray(0, full.length >> 1));
    const back = await s.get(id);
    expect(back.status).toBe('recovered');
    expect(back.messages.length).toBe(2);
    expect(back.problems.join(' ')).toMatch(/checksum|cut short/);
    // the next turn continues from the last complete state, and cleans up
    const again = await s.chat(id, { message: USER[1]!, ...greedy });
    expect(again.hearth.ids).toEqual(two.hearth.ids);
    expect((await s.get(id)).status).toBe('ok');

    // flip one byte inside the newest KV chunk
    const chunk = readdirSync(folder).filter((n) => n.startsWith('k-')).sort().pop()!;
    const bytes = readFileSync(join(folder, chunk));
    bytes[bytes.length - 5] ^= 0x40;
    writeFileSync(join(folder, chunk), bytes);
    await clobber();
    expect(await code(s.chat(id, { message: USER[2]!, ...greedy }))).toBe('SESSION_CORRUPT');
    expect((await s.get(id)).messages.length).toBe(4);
    const fixed = await s.repair(id);
    expect(fixed.status).toBe('ok');
    expect(fixed.storedTokens).toBeLessThan(again.session.storedTokens);
    const after = await s.chat(id, { message: USER[2]!, ...greedy });
    expect(after.hearth.reused_tokens).toBe(fixed.storedTokens);

    // every manifest damaged: the session is unreadable, and listed as such
    for (const n of readdirSync(folder).filter((x) => x.startsWith('m-'))) writeFileSync(join(folder, n), 'garbage');
    expect(await code(s.get(id))).toBe('SESSION_CORRUPT');
    const listed = await s.list();
    expect(listed.find((x) => x.id === id)?.status).toBe('unreadable');
  });

  it('short storage gives QUOTA_EXCEEDED saying how much is needed, and loses nothing stored', async () => {
    let free: number | null = null;
    const store = new MemorySessionStore();
    const s = sessions(store, { free: async () => free });
    const { id } = await s.create();
    const one = await s.chat(id, { message: USER[0]!, ...greedy });
    const before = await s.get(id);
    free = 2000;
    let err: unknown;
    try {
      await s.chat(id, { message: USER[1]!, ...greedy });
    } catch (e) {
      err = e;
    }
    expect(isHearthError(err, 'QUOTA_EXCEEDED')).toBe(true);
    const details = (err as { details: { needed: number; free: number } }).details;
    expect(details.needed).toBeGreaterThan(2000);
    expect(details.free).toBe(2000);
    expect((err as Error).message).toMatch(/needs [\d.]+ kB; 2\.00 kB is free/);
    const after = await s.get(id);
    expect(after.messages).toEqual(before.messages);
    expect(after.storedTokens).toBe(one.session.storedTokens);
    // the prompt's KV fits (16 tokens of 1284 bytes), the reply's does not: refused at write time,
    // and the reply comes with the error
    free = 16 * 1284;
    err = undefined;
    try {
      await s.chat(id, { message: USER[1]!, ...greedy });
    } catch (e) {
      err = e;
    }
    expect(isHearthError(err, 'QUOTA_EXCEEDED')).toBe(true);
    expect((err as { details: { completion?: SessionChatCompletion } }).details.completion?.choices[0]!.message.content).toBeTruthy();
    expect((await s.get(id)).messages).toEqual(before.messages);
    free = null;
    expect((await s.chat(id, { message: USER[1]!, ...greedy })).session.storedTokens).toBeGreaterThan(one.session.storedTokens);
  });

  it('encrypts at rest with the app key (fresh IV per file): no plaintext on disk; a wrong or missing key cannot read it', async () => {
    const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
    const root = join(dir, 'encrypted');
    const s = sessions(new NodeSessionStore(root), { key });
    const { id } = await s.create({ title: 'secret diary' });
    await s.chat(id, { message: 'The purple elephant sang.', ...greedy });
    await s.chat(id, { message: USER[1]!, ...greedy });
    const folder = join(root, id);
    const files = readdirSync(folder).map((n) => readFileSync(join(folder, n)));
    for (const f of files) {
      expect(f.includes(Buffer.from('purple elephant'))).toBe(false);
      expect(f.includes(Buffer.from('secret diary'))).toBe(false);
      expect(f[4]).toBe(1);
    }
    const ivs = new Set(files.map((f) => f.subarray(8, 20).toString('hex')));
    expect(ivs.size).toBe(files.length);
    const info = await s.get(id);
    expect(info.encrypted).toBe(true);
    expect(info.title).toBe('secret diary');

    const other = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
    expect(await code(sessions(new NodeSessionStore(root), { key: other }).get(id))).toBe('SESSION_CORRUPT');
    expect(await code(sessions(new NodeSessionStore(root)).get(id))).toBe('INVALID_ARGUMENT');
    expect(await code((async () => sessions(new NodeSessionStore(root), { key: 'k' as never }))())).toBe('INVALID_ARGUMENT');
    expect(await code(s.configure({ key: { algorithm: { name: 'AES-CBC' }, usages: ['encrypt', 'decrypt'] } as never }))).toBe('INVALID_ARGUMENT');
    // resumes from the encrypted KV
    await clobber();
    const r = await sessions(new NodeSessionStore(root), { key }).chat(id, { message: USER[2]!, ...greedy });
    expect(r.session.restoredTokens).toBe(info.storedTokens);
  });

  it('export gives one portable file; import stores it under a new id and it continues as the original; delete removes every file', async () => {
    const root = join(dir, 'export');
    const s = sessions(new NodeSessionStore(root));
    const { id } = await s.create({ metadata: { pinned: true } });
    for (const u of USER.slice(0, 2)) await s.chat(id, { message: u, ...greedy });
    const blob = await s.export(id);
    expect(blob.size).toBeGreaterThan((await s.get(id)).storedTokens * 1280);
    const elsewhere = sessions();
    const imported = await elsewhere.import(blob);
    expect(imported.id).not.toBe(id);
    expect(imported.metadata).toEqual({ pinned: true });
    expect(imported.storedTokens).toBe((await s.get(id)).storedTokens);
    const want = await s.chat(id, { message: USER[2]!, ...greedy });
    await clobber();
    const got = await elsewhere.chat(imported.id, { message: USER[2]!, ...greedy });
    expect(got.session.restoredTokens).toBe(imported.storedTokens);
    expect(got.hearth.ids).toEqual(want.hearth.ids);
    // a cut-off file is refused
    const bytes = new Uint8Array(await blob.arrayBuffer());
    expect(await code(elsewhere.import(bytes.subarray(0, bytes.length - 10)))).toBe('SESSION_CORRUPT');

    expect(existsSync(join(root, id))).toBe(true);
    await s.delete(id);
    expect(existsSync(join(root, id))).toBe(false);
    expect(await code(s.get(id))).toBe('SESSION_NOT_FOUND');
    expect(await s.list()).toEqual([]);
  });

  it('a request that changes the engine cache while a session is being restored cannot corrupt the restore', async () => {
    const mem = new MemorySessionStore();
    let meddle: (() => Promise<unknown>) | null = null;
    // a store whose next chunk read first lets another request run on the engine
    const store: SessionStore = {
      kind: 'memory',
      listSessions: () => mem.listSessions(),
      listFiles: (id) => mem.listFiles(id),
      read: async (id, name) => {
        const m = name.startsWith('k-') ? meddle : null;
        if (m) {
          meddle = null;
          await m();
        }
        return mem.read(id, name);
      },
      write: (id, name, bytes) => mem.write(id, name, bytes),
      remove: (id, name) => mem.remove(id, name),
      removeSession: (id) => mem.removeSession(id),
      free: () => mem.free(),
    };
    const s = sessions(store);
    const { id } = await s.create();
    for (const u of USER.slice(0, 3)) await s.chat(id, { message: u, ...greedy });
    const ref = sessions();
    const { id: rid } = await ref.import(await s.export(id));
    await clobber();
    const want = (await ref.chat(rid, { message: USER[3]!, ...greedy })).hearth.ids;

    // the engine holds the session's first 12 tokens, then others; a restore of the rest begins,
    // and while its chunk is read another request overwrites the cache from position 1
    await clobber();
    await s.restore(id);
    const held = [...engine.cachedTokens];
    await engine.generate({ promptIds: [...held.slice(0, 12), 300, 301, 302], maxTokens: 1, sampling: { temperature: 0 } });
    meddle = () => engine.generate({ promptIds: [1, 310, 311, 312, 313, 314, 315, 316, 317, 318, 319, 320, 321, 322, 323], maxTokens: 1, sampling: { temperature: 0 } });
    const got = await s.chat(id, { message: USER[3]!, ...greedy });
    expect(meddle).toBeNull();
    expect(got.hearth.ids).toEqual(want);
    expect(got.session.restoredTokens).toBe(held.length);
  });

  it('update renames and replaces messages; restore loads the KV ahead of the next turn', async () => {
    const s = sessions();
    const { id } = await s.create();
    for (const u of USER.slice(0, 2)) await s.chat(id, { message: u, ...greedy });
    const u = await s.update(id, { title: 'renamed', metadata: { color: 'blue' } });
    expect(u.title).toBe('renamed');
    expect(u.metadata).toEqual({ color: 'blue' });
    await clobber();
    const r = await s.restore(id);
    expect(r.restoredTokens).toBe(u.storedTokens);
    expect((await s.restore(id)).restoredTokens).toBe(0);
    const next = await s.chat(id, { message: USER[2]!, ...greedy });
    expect(next.session.restoredTokens).toBe(0);
    expect(next.hearth.reused_tokens).toBe(u.storedTokens);
  });
});
