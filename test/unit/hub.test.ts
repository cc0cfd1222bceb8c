import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HearthError, type HearthErrorCode } from '../../src/errors.js';
import { openModel, readTensor } from '../../src/formats/model-files.js';
import type { ProgressEvent } from '../../src/hub/byte-source.js';
import { hubFileUrl, parseHubSpec } from '../../src/hub/hf-hub.js';
import { HttpByteSource } from '../../src/hub/http.js';
import { resolveModelSource } from '../../src/hub/resolve.js';
import { startHubServer, type HubServer } from '../helpers/hub-server.js';
import { tinyHfFiles } from '../helpers/tiny-model.js';

const STORIES = '/work/shared/models/stories260K/stories260K.gguf';
const stories = new Uint8Array(readFileSync(STORIES));
const storiesSha = createHash('sha256').update(stories).digest('hex');
const tiny = tinyHfFiles({ arch: 'qwen2' });
const sharded = tinyHfFiles({ arch: 'llama' }, 2);

function repoFiles(prefix: string, files: Record<string, Uint8Array | string>): Record<string, Uint8Array | string> {
  return Object.fromEntries(Object.entries(files).map(([k, v]) => [`${prefix}/${k}`, v]));
}

const FILES = {
  'karpathy/stories/stories260K.gguf': stories,
  'karpathy/stories/README.md': '# stories',
  ...repoFiles('acme/tiny', tiny),
  'acme/tiny@v1/config.json': '{"revision":"v1"}',
  ...repoFiles('acme/sharded', sharded),
  ...repoFiles('acme/two', { 'a-q8_0.gguf': stories, 'b-f32.gguf': stories, 'sub/c.gguf': stories }),
};

async function expectCode(p: Promise<unknown>, code: HearthErrorCode, message?: RegExp): Promise<HearthError> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(err, `expected ${code}`).toBeInstanceOf(HearthError);
  const he = err as HearthError;
  expect(he.code, he.message).toBe(code);
  if (message) expect(he.message).toMatch(message);
  return he;
}

let hub: HubServer;
beforeAll(async () => {
  hub = await startHubServer({ files: FILES });
});
afterAll(async () => {
  await hub.close();
});
beforeEach(() => hub.reset());

describe('Hub repo ids', () => {
  it('parses owner/name, revisions and files', () => {
    expect(parseHubSpec('HuggingFaceTB/SmolLM2-135M-Instruct')).toEqual({ repo: 'HuggingFaceTB/SmolLM2-135M-Instruct', revision: undefined, file: undefined });
    expect(parseHubSpec('hf:Qwen/Qwen2.5-0.5B@v1.0')).toEqual({ repo: 'Qwen/Qwen2.5-0.5B', revision: 'v1.0', file: undefined });
    expect(parseHubSpec('ggml-org/models/tinyllamas/stories260K.gguf')).toEqual({ repo: 'ggml-org/models', revision: undefined, file: 'tinyllamas/stories260K.gguf' });
    expect(parseHubSpec('just-a-name')).toBeNull();
    expect(parseHubSpec('https://x/y')).toBeNull();
    expect(hubFileUrl('https://hf.co/', 'a/b', 'refs/pr/1', 'sub dir/x.json')).toBe('https://hf.co/a/b/resolve/refs%2Fpr%2F1/sub%20dir/x.json');
  });
});

describe('Hub source against a local Hub', () => {
  it('lists through the tree API and reads with Range requests, sizes and hashes from the listing', async () => {
    const src = await resolveModelSource('karpathy/stories', { endpoint: hub.url });
    expect(src.id).toBe(`hf:${hub.url}/karpathy/stories@main`);
    expect(await src.list()).toEqual(['README.md', 'stories260K.gguf']);
    expect(await src.has('stories260K.gguf')).toBe(true);
    expect(await src.has('nope.gguf')).toBe(false);
    const f = await src.open('stories260K.gguf');
    expect(await f.size()).toBe(stories.byteLength);
    expect(f.sha256).toBe(storiesSha);
    expect(await f.read(100, 50)).toEqual(stories.subarray(100, 150));
    expect(await src.readText('README.md')).toBe('# stories');
    expect(hub.count('/api/models/karpathy/stories/tree/main')).toBe(1);
    expect(hub.count(undefined, 'HEAD')).toBe(0);
    const get = hub.requests.find((r) => r.path.endsWith('stories260K.gguf'))!;
    expect(get).toMatchObject({ method: 'GET', path: '/karpathy/stories/resolve/main/stories260K.gguf', range: 'bytes=100-149', status: 206 });
  });

  it('opens a GGUF model over HTTP reading only its header, then single tensors', async () => {
    const src = await resolveModelSource('karpathy/stories', { endpoint: hub.url });
    const m = await openModel(src);
    expect(m.config).toMatchObject({ architecture: 'llama', hiddenSize: 64, numLayers: 5, vocabSize: 512 });
    const gets = hub.requests.filter((r) => r.path.endsWith('.gguf'));
    expect(gets).toHaveLength(1);
    const embed = m.tensors.get('embed')!;
    const bytes = await readTensor(src, embed);
    expect(bytes).toEqual(stories.subarray(embed.offset, embed.offset + embed.byteLength));
    expect(hub.requests.at(-1)!.range).toBe(`bytes=${embed.offset}-${embed.offset + embed.byteLength - 1}`);
  });

  it('opens safetensors models, single and sharded, with their side files', async () => {
    const m = await openModel(await resolveModelSource('acme/tiny', { endpoint: hub.url }));
    expect(m).toMatchObject({ format: 'safetensors', files: ['model.safetensors'] });
    expect(m.config).toMatchObject({ architecture: 'qwen2', attentionBias: true });
    expect(m.hfFiles!.tokenizerJson).toBeDefined();
    const src = await resolveModelSource('acme/sharded', { endpoint: hub.url });
    const s = await openModel(src);
    expect(s.files).toHaveLength(2);
    const t = s.tensors.get('layers.1.down')!;
    const shard = sharded[t.file] as Uint8Array;
    expect(await readTensor(src, t)).toEqual(shard.subarray(t.offset, t.offset + t.byteLength));
  });

  it('asks which GGUF to use when a repo holds several, and takes one named in the spec', async () => {
    await expectCode(openModel(await resolveModelSource('acme/two', { endpoint: hub.url })), 'INVALID_ARGUMENT', /a-q8_0\.gguf, b-f32\.gguf/);
    const src = await resolveModelSource('acme/two/b-f32.gguf', { endpoint: hub.url });
    expect(src.entry).toBe('b-f32.gguf');
    expect((await openModel(src)).files).toEqual(['b-f32.gguf']);
    // the tree listing covers the top level; a file in a subfolder is fetched directly
    const sub = await resolveModelSource('acme/two/sub/c.gguf', { endpoint: hub.url });
    expect((await openModel(sub)).files).toEqual(['sub/c.gguf']);
  });

  it('resolves revisions', async () => {
    const a = await resolveModelSource('acme/tiny@v1', { endpoint: hub.url });
    expect(a.id).toContain('@v1');
    expect(await a.readText('config.json')).toBe('{"revision":"v1"}');
    const b = await resolveModelSource('acme/tiny', { endpoint: hub.url, revision: 'v1' });
    expect(await b.readText('config.json')).toBe('{"revision":"v1"}');
    expect(hub.requests.some((r) => r.path === '/acme/tiny/resolve/v1/config.json')).toBe(true);
  });

  it('gives MISSING_FILE for absent files and repos, without a request when the listing knows', async () => {
    const src = await resolveModelSource('acme/tiny', { endpoint: hub.url });
    await src.list();
    const before = hub.requests.length;
    await expectCode(src.open('nope.safetensors'), 'MISSING_FILE', /nope\.safetensors/);
    await expectCode(src.readText('vocab.json'), 'MISSING_FILE');
    expect(hub.requests.length).toBe(before);
    // no such repo: the tree API 404s, probing finds nothing
    const ghost = await resolveModelSource('ghost/repo', { endpoint: hub.url });
    await expectCode(openModel(ghost), 'MISSING_FILE', /No model weights found/);
    await expectCode(ghost.readText('config.json'), 'MISSING_FILE', /HTTP 404/);
  });

  it('reports progress per file', async () => {
    const events: ProgressEvent[] = [];
    const src = await resolveModelSource('acme/sharded', { endpoint: hub.url, onProgress: (p) => events.push(p) });
    const m = await openModel(src);
    for (const t of m.tensors.values()) await readTensor(src, t);
    expect(events.length).toBeGreaterThan(0);
    for (const f of m.files) {
      const mine = events.filter((e) => e.file === f);
      expect(mine.length, f).toBeGreaterThan(0);
      const total = (sharded[f] as Uint8Array).byteLength;
      for (let i = 0; i < mine.length; i++) {
        expect(mine[i]!.total).toBe(total);
        expect(mine[i]!.loaded).toBeLessThanOrEqual(total);
        if (i > 0) expect(mine[i]!.loaded).toBeGreaterThanOrEqual(mine[i - 1]!.loaded);
      }
      expect(mine.at(-1)!.loaded).toBe(total);
    }
  });

  it('sends a token as a Bearer header and maps 401 to NETWORK', async () => {
    const src = await resolveModelSource('acme/tiny', { endpoint: hub.url, token: 'hf_secret' });
    await src.readText('config.json');
    expect(hub.requests.every((r) => r.authorization === 'Bearer hf_secret')).toBe(true);
    hub.failNext('/acme/tiny/resolve/main/config.json', 401);
    const e = await expectCode(src.readText('config.json'), 'NETWORK', /HTTP 401/);
    expect(e.hint).toMatch(/token/);
  });

  it('retries transient failures and resumes dropped connections', async () => {
    const src = await resolveModelSource('karpathy/stories', { endpoint: hub.url });
    const f = await src.open('stories260K.gguf');
    hub.failNext('stories260K.gguf', 503, 1);
    expect(await f.read(0, 4000)).toEqual(stories.subarray(0, 4000));
    expect(hub.count('stories260K.gguf', 'GET')).toBe(2);
    hub.reset();
    hub.dropNext('stories260K.gguf', 1000);
    expect(await f.read(10, 300_000)).toEqual(stories.subarray(10, 300_010));
    const ranges = hub.requests.filter((r) => r.path.endsWith('.gguf')).map((r) => r.range);
    expect(ranges[0]).toBe('bytes=10-300009');
    expect(ranges[1]).toMatch(/^bytes=\d+-300009$/);
    expect(Number(/=(\d+)/.exec(ranges[1]!)![1])).toBeGreaterThan(10);
    hub.reset();
    hub.failNext('stories260K.gguf', 500, 3);
    const e = await expectCode(f.read(0, 10), 'NETWORK', /HTTP 500/);
    expect(e.details).toMatchObject({ status: 500 });
    expect(hub.count('stories260K.gguf', 'GET')).toBe(3);
  });

  it('never hangs: a stalled response times out, an abort ends it at once', async () => {
    const src = await resolveModelSource('karpathy/stories', { endpoint: hub.url, timeoutMs: 300, retries: 0 });
    const f = await src.open('stories260K.gguf');
    hub.stallNext('stories260K.gguf', 100);
    const t0 = Date.now();
    await expectCode(f.read(0, 5000), 'NETWORK', /No data/);
    expect(Date.now() - t0).toBeLessThan(5000);

    const slow = await resolveModelSource('karpathy/stories', { endpoint: hub.url, timeoutMs: 60_000 });
    const g = await slow.open('stories260K.gguf');
    hub.stallNext('stories260K.gguf', 100);
    const ctrl = new AbortController();
    setTimeout(() => ctrl.abort(), 100);
    const t1 = Date.now();
    await expectCode(g.read(0, 5000, ctrl.signal), 'ABORTED');
    expect(Date.now() - t1).toBeLessThan(5000);
    const pre = new AbortController();
    pre.abort();
    await expectCode(g.read(0, 10, pre.signal), 'ABORTED');
  });

  it('follows the Hub redirect of LFS files to its CDN, keeping the range', async () => {
    const lfs = await startHubServer({ files: FILES, redirectLfs: true });
    try {
      const src = await resolveModelSource('karpathy/stories', { endpoint: lfs.url });
      const f = await src.open('stories260K.gguf');
      expect(await f.read(1000, 24)).toEqual(stories.subarray(1000, 1024));
      expect(lfs.requests.some((r) => r.status === 302)).toBe(true);
      expect(lfs.requests.find((r) => r.path.startsWith('/cdn/'))).toMatchObject({ range: 'bytes=1000-1023', status: 206 });
    } finally {
      await lfs.close();
    }
  });

  it('works with a mirror that has no tree API: probes known names, paginates when it has one', async () => {
    const bare = await startHubServer({ files: FILES, treeApi: false });
    try {
      const src = await resolveModelSource('acme/tiny', { endpoint: bare.url });
      expect((await src.list()).sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
      expect((await openModel(src)).config.architecture).toBe('qwen2');
      const g = await resolveModelSource('karpathy/stories/stories260K.gguf', { endpoint: bare.url });
      expect((await openModel(g)).config.numLayers).toBe(5);
    } finally {
      await bare.close();
    }
    const paged = await startHubServer({ files: FILES, pageSize: 2 });
    try {
      const src = await resolveModelSource('acme/tiny', { endpoint: paged.url });
      expect((await src.list()).sort()).toEqual(Object.keys(tiny).sort());
      expect(paged.count('/api/models/acme/tiny/tree/main')).toBe(3);
    } finally {
      await paged.close();
    }
  });
});

describe('URL sources', () => {
  it('opens a single GGUF URL and a folder URL', async () => {
    const src = await resolveModelSource(`${hub.url}/files/karpathy/stories/stories260K.gguf`);
    expect(src.id).toBe(`${hub.url}/files/karpathy/stories/stories260K.gguf`);
    expect(src.entry).toBe('stories260K.gguf');
    const m = await openModel(src);
    expect(m.config.vocabSize).toBe(512);
    // a named GGUF needs nothing else: no probing for config or tokenizer files
    expect(hub.requests.every((r) => r.path.endsWith('stories260K.gguf'))).toBe(true);
    const folder = await resolveModelSource(`${hub.url}/files/acme/sharded`);
    const s = await openModel(folder);
    expect(s.files).toHaveLength(2);
    expect(s.config.architecture).toBe('llama');
  });

  it('reads sizes without HEAD, refuses servers that ignore Range past byte 0, and reports truncation', async () => {
    const noHead = await startHubServer({ files: FILES, noHead: true });
    try {
      const f = new HttpByteSource('stories260K.gguf', `${noHead.url}/files/karpathy/stories/stories260K.gguf`);
      expect(await f.size()).toBe(stories.byteLength);
      expect(noHead.requests.map((r) => `${r.method} ${r.range ?? ''}`)).toEqual(['HEAD ', 'GET bytes=0-0']);
    } finally {
      await noHead.close();
    }
    const noRange = await startHubServer({ files: FILES, ignoreRange: true });
    try {
      const f = new HttpByteSource('stories260K.gguf', `${noRange.url}/files/karpathy/stories/stories260K.gguf`);
      expect(await f.read(0, 16)).toEqual(stories.subarray(0, 16));
      await expectCode(f.read(16, 16), 'NETWORK', /ignores Range/);
    } finally {
      await noRange.close();
    }
    const unknownSize = new HttpByteSource('stories260K.gguf', `${hub.url}/files/karpathy/stories/stories260K.gguf`);
    await expectCode(unknownSize.read(stories.byteLength - 4, 10), 'TRUNCATED_FILE');
    await expectCode(unknownSize.read(stories.byteLength + 4, 10), 'TRUNCATED_FILE');
    const known = new HttpByteSource('x', `${hub.url}/files/karpathy/stories/stories260K.gguf`, {}, { size: stories.byteLength });
    await expectCode(known.read(stories.byteLength - 4, 10), 'TRUNCATED_FILE');
    await expectCode(new HttpByteSource('gone.bin', `${hub.url}/files/gone.bin`).size(), 'MISSING_FILE', /gone\.bin/);
  });
});

describe('resolveModelSource', () => {
  it('picks local paths first, and explains bad specs', async () => {
    const dir = await resolveModelSource('/work/shared/models/stories260K');
    expect(dir.id).toBe('file:///work/shared/models/stories260K');
    expect(await dir.list()).toContain('stories260K.gguf');
    await expectCode(dir.open('nope.gguf'), 'MISSING_FILE');
    const file = await resolveModelSource(`file://${STORIES}`);
    expect(file.entry).toBe('stories260K.gguf');
    await expectCode(resolveModelSource('./no/such/model.gguf'), 'MISSING_FILE', /no\/such/);
    await expectCode(resolveModelSource('models/x.gguf'), 'MISSING_FILE');
    // in Node, a string that is neither a path nor a repo id reads as a missing path
    await expectCode(resolveModelSource('not a model!'), 'MISSING_FILE', /not a Hub repo id/);
    await expectCode(resolveModelSource('  '), 'INVALID_ARGUMENT');
  });

  it('reads browser File objects', async () => {
    const one = await resolveModelSource(new File([stories], 'stories260K.gguf'));
    expect(one.entry).toBe('stories260K.gguf');
    expect((await openModel(one)).tensors.size).toBe(48);
    const events: ProgressEvent[] = [];
    const files = Object.entries(tiny).map(([name, data]) => new File([typeof data === 'string' ? data : new Uint8Array(data)], name));
    const many = await resolveModelSource(files, { onProgress: (p) => events.push(p) });
    const m = await openModel(many);
    expect(m.config.architecture).toBe('qwen2');
    expect(events.some((e) => e.file === 'model.safetensors')).toBe(true);
    const t = m.tensors.get('embed')!;
    expect(await readTensor(many, t)).toEqual((tiny['model.safetensors'] as Uint8Array).subarray(t.offset, t.offset + t.byteLength));
  });
});
