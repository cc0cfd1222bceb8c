/**
 * `hearth serve` on 127.0.0.1 with stories260K, driven by the official openai client: models,
 * chat and text completions streamed and not (usage, include_usage, logprobs, stop, seed), abort
 * mid-stream, errors, API keys, CORS, the bounded queue, sessions resumed from disk, a lost
 * device; and by plain HTTP for malformed JSON, wrong types, oversized bodies and missing keys.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { KNOWN_TEXT } from '../helpers/stories.js';
import { apiError, post, startServer, type TestServer } from '../helpers/serve.js';

const greedy = { temperature: 0 } as const;
const user = (content: string) => [{ role: 'user' as const, content }];

describe('hearth serve', () => {
  let t: TestServer;
  let dir: string;
  const logs: string[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hearth-serve-'));
    t = await startServer({ sessionsDir: dir, maxQueue: 16, logger: { level: 'info', stream: { write: (l: string) => void logs.push(l) } }, logContent: true });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists its model; completions and chat, streamed and not, in OpenAI shapes', async () => {
    const models = await t.client.models.list();
    expect(models.data.map((m) => [m.id, m.object, m.owned_by])).toEqual([['stories260K', 'model', 'hearth']]);
    expect((await t.client.models.retrieve('stories260K')).id).toBe('stories260K');

    const c = await t.client.completions.create({ model: 'stories260K', prompt: [1], max_tokens: 20, ...greedy });
    expect(c.object).toBe('text_completion');
    expect(c.choices[0]!.text).toBe(KNOWN_TEXT.slice(0, c.choices[0]!.text.length));
    expect(c.choices[0]!.text.length).toBeGreaterThan(40);
    expect(c.choices[0]!.finish_reason).toBe('length');
    expect(c.usage).toMatchObject({ prompt_tokens: 1, completion_tokens: 20, total_tokens: 21 });

    // streamed: the same text, a finish reason, no usage unless asked
    let text = '';
    let finish: string | null = null;
    const chunks = [];
    for await (const ch of await t.client.completions.create({ model: 'stories260K', prompt: [1], max_tokens: 20, ...greedy, stream: true })) {
      chunks.push(ch);
      text += ch.choices[0]?.text ?? '';
      finish = ch.choices[0]?.finish_reason ?? finish;
    }
    expect(text).toBe(c.choices[0]!.text);
    expect(finish).toBe('length');
    expect(chunks.every((ch) => ch.usage === undefined)).toBe(true);

    const chat = await t.client.chat.completions.create({ model: 'stories260K', messages: user('Once upon a time'), max_tokens: 8, ...greedy });
    expect(chat.object).toBe('chat.completion');
    expect(chat.choices[0]!.message.role).toBe('assistant');
    let streamed = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    let last: OpenAI.ChatCompletionChunk | undefined;
    for await (const ch of await t.client.chat.completions.create({ messages: user('Once upon a time'), model: 'stories260K', max_tokens: 8, ...greedy, stream: true, stream_options: { include_usage: true } })) {
      streamed += ch.choices[0]?.delta.content ?? '';
      if (ch.usage) usage = ch.usage;
      last = ch;
    }
    expect(streamed).toBe(chat.choices[0]!.message.content);
    // include_usage: a last chunk with no choices carries the usage
    expect(last!.choices).toEqual([]);
    expect(usage).toMatchObject({ prompt_tokens: chat.usage!.prompt_tokens, completion_tokens: chat.usage!.completion_tokens });
    // --log-content: prompts and replies are in the log (off by default: see the next describe)
    expect(logs.join('')).toContain('Once upon a time');
    expect(logs.join('')).toContain(JSON.stringify(chat.choices[0]!.message.content).slice(1, -1));
  }, 60_000);

  it('logprobs, stop, seed and the sampling parameters pass through', async () => {
    const lp = await t.client.chat.completions.create({ model: 'stories260K', messages: user('Once upon a time'), max_tokens: 3, ...greedy, logprobs: true, top_logprobs: 2 });
    const content = lp.choices[0]!.logprobs!.content!;
    expect(content).toHaveLength(3);
    expect(content[0]!.top_logprobs).toHaveLength(2);
    expect(content[0]!.logprob).toBeCloseTo(content[0]!.top_logprobs[0]!.logprob, 5);

    const legacy = await t.client.completions.create({ model: 'stories260K', prompt: [1], max_tokens: 3, ...greedy, logprobs: 2 });
    expect(legacy.choices[0]!.logprobs!.token_logprobs).toHaveLength(3);

    const stopped = await t.client.completions.create({ model: 'stories260K', prompt: [1], max_tokens: 40, ...greedy, stop: ['Lily'] });
    expect(stopped.choices[0]!.text).toBe(KNOWN_TEXT.slice(0, KNOWN_TEXT.indexOf('Lily')));
    expect(stopped.choices[0]!.finish_reason).toBe('stop');

    const sampled = { model: 'stories260K', prompt: [1], max_tokens: 10, temperature: 0.9, top_p: 0.9, seed: 7, frequency_penalty: 0.2, presence_penalty: 0.1 };
    const a = await t.client.completions.create(sampled);
    const b = await t.client.completions.create(sampled);
    expect(a.choices[0]!.text).toBe(b.choices[0]!.text);
    // Hearth's extras (top_k, min_p, repetition_penalty) go in the body as well
    const extras = await t.client.completions.create({ ...sampled, top_k: 5, min_p: 0.05, repetition_penalty: 1.1 } as OpenAI.CompletionCreateParamsNonStreaming);
    expect(extras.usage!.completion_tokens).toBe(10);
  }, 60_000);

  it('an abort mid-stream stops the generation and frees its slot', async () => {
    const ctrl = new AbortController();
    let got = 0;
    const stream = await t.client.completions.create({ model: 'stories260K', prompt: [1], max_tokens: 100, ...greedy, stream: true, ignore_eos: true } as OpenAI.CompletionCreateParamsStreaming, { signal: ctrl.signal });
    const before = t.server.requests.clientGone;
    // the SDK ends the loop quietly when its signal aborts
    for await (const ch of stream) {
      if (ch.choices[0]?.text) got++;
      if (got === 3) ctrl.abort();
    }
    // chunks the SDK had already read when it aborted may still come through; the generation itself stops early
    expect(got).toBeGreaterThanOrEqual(3);
    expect(got).toBeLessThan(100);
    await t.server.scheduler.whenIdle();
    expect(t.server.scheduler.stats).toEqual({ active: 0, queued: 0, waitingKeys: 0 });
    // the server saw the client go and aborted the generation (it would have run 100 tokens)
    expect(t.server.requests.clientGone).toBe(before + 1);
    // the engine is free and answers the next request in full
    const next = await t.client.completions.create({ model: 'stories260K', prompt: [1], max_tokens: 5, ...greedy });
    expect(next.choices[0]!.finish_reason).toBe('length');
  }, 60_000);

  it('errors come back OpenAI-shaped with the right status, and the server stays up', async () => {
    const bad = await apiError(t.client.chat.completions.create({ model: 'stories260K', messages: user('hi'), top_logprobs: 50, logprobs: true }));
    expect([bad.status, bad.type, bad.param]).toEqual([400, 'invalid_request_error', 'top_logprobs']);
    const role = await apiError(t.client.chat.completions.create({ model: 'stories260K', messages: [{ role: 'wizard', content: 'x' }] as never }));
    expect([role.status, role.param]).toEqual([400, 'messages[0].role']);
    const model = await apiError(t.client.chat.completions.create({ model: 'gpt-4o', messages: user('hi') }));
    expect([model.status, model.code, model.param]).toEqual([404, 'model_not_found', 'model']);
    // a prompt longer than the context (128) is a typed 400
    const long = await apiError(t.client.completions.create({ model: 'stories260K', prompt: Array.from({ length: 200 }, () => 1) }));
    expect([long.status, long.code]).toEqual([400, 'context_length_exceeded']);
    expect(long.message).toMatch(/200 tokens, but the context holds 128/);

    const url = `${t.url}/v1/chat/completions`;
    const cases: [string, Awaited<ReturnType<typeof post>>, number, RegExp][] = [
      ['malformed JSON', await post(url, '{"messages": [}'), 400, /could not parse the JSON body/],
      ['a JSON array', await post(url, '[1,2]'), 400, /needs a params object/],
      ['wrong type', await post(url, JSON.stringify({ messages: user('hi'), max_tokens: 'ten' })), 400, /max_tokens must be an integer/],
      ['missing messages', await post(url, JSON.stringify({ model: 'stories260K' })), 400, /messages is empty/],
      ['message without content', await post(url, JSON.stringify({ messages: [{ role: 'user' }] })), 400, /needs a string role and a string content/],
      ['unknown parameter', await post(url, JSON.stringify({ messages: user('hi'), best_of: 2 })), 400, /Unrecognized request argument supplied: best_of/],
      ['form-encoded', await post(url, 'a=1', { 'content-type': 'application/x-www-form-urlencoded' }), 400, /Unsupported Content-Type/],
      ['oversized body', await post(url, JSON.stringify({ messages: user('x'.repeat(1.2 * 1024 * 1024)) })), 413, /larger than this server accepts/],
      ['prototype pollution', await post(url, '{"__proto__": {"x": 1}, "messages": []}'), 400, /could not parse the JSON body/],
      ['unknown URL', await post(`${t.url}/v1/embeddings`, '{}'), 404, /Unknown request URL: POST \/v1\/embeddings/],
    ];
    for (const [what, r, status, message] of cases) {
      expect(r.status, what).toBe(status);
      expect(Object.keys(r.json.error ?? {}), what).toEqual(['message', 'type', 'param', 'code']);
      expect(r.json.error!.message, what).toMatch(message);
    }
    const health = await fetch(`${t.url}/health`).then((r) => r.json());
    expect(health).toMatchObject({ status: 'ok', model: 'stories260K', queue: { active: 0, queued: 0 } });
    // CORS is off unless asked for
    const r = await fetch(`${t.url}/v1/models`, { headers: { origin: 'https://evil.example' } });
    expect(r.headers.get('access-control-allow-origin')).toBeNull();
  }, 60_000);

  it('sessions: a returning client resumes from disk without prefilling the conversation again', async () => {
    const s = await post(`${t.url}/v1/sessions`, JSON.stringify({ title: 'test' }));
    expect(s.status).toBe(200);
    const id = s.json.id as string;
    const headers = { headers: { 'x-hearth-session': id } };
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Once upon a time there was a dog' }];
    const one = await t.client.chat.completions.create({ model: 'stories260K', messages, max_tokens: 6, ...greedy }, headers);
    expect((one as typeof one & { session: { restoredTokens: number; storedTokens: number } }).session).toMatchObject({ restoredTokens: 0, storedTokens: one.usage!.total_tokens - 1 }); // all but the last reply token, not yet run
    messages.push({ role: 'assistant', content: one.choices[0]!.message.content! }, { role: 'user', content: 'The dog ran' });

    // another request in between takes the engine's cache; then a new server on the same folder
    await t.client.completions.create({ model: 'stories260K', prompt: [1, 2, 3], max_tokens: 2 });
    const again = await startServer({ sessionsDir: dir });
    try {
      const two = await again.client.chat.completions.create({ model: 'stories260K', messages, max_tokens: 6, ...greedy, stream: true }, headers);
      let last: (OpenAI.ChatCompletionChunk & { session?: { restoredTokens: number }; hearth?: { prefilled_tokens: number; reused_tokens: number; prompt_ids: number[] } }) | undefined;
      for await (const ch of two) if (ch.choices[0]?.finish_reason) last = ch;
      // the first turn's prompt and reply come back from disk: only the new message is prefilled
      expect(last!.session!.restoredTokens).toBeGreaterThan(one.usage!.prompt_tokens);
      expect(last!.hearth!.reused_tokens).toBe(last!.session!.restoredTokens);
      expect(last!.session!.restoredTokens).toBeGreaterThanOrEqual(one.usage!.total_tokens - 2);
      expect(last!.hearth!.prefilled_tokens + last!.hearth!.reused_tokens).toBe(last!.hearth!.prompt_ids.length);
      const stored = await fetch(`${again.url}/v1/sessions/${id}`).then((r) => r.json());
      expect(stored.messages.map((m: { role: string }) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
    } finally {
      await again.close();
    }
    const gone = await fetch(`${t.url}/v1/sessions/${id}`, { method: 'DELETE' }).then((r) => r.json());
    expect(gone).toEqual({ id, object: 'session', deleted: true });
    const missing = await apiError(t.client.chat.completions.create({ model: 'stories260K', messages, max_tokens: 2 }, headers));
    expect([missing.status, missing.code]).toEqual([404, 'session_not_found']);
  }, 120_000);

  it('a lost GPU device answers 503, the model loads again, and requests run as before', async () => {
    const ctrl = new AbortController();
    const stream = await t.client.completions.create({ model: 'stories260K', prompt: [1], max_tokens: 100, ...greedy, stream: true, ignore_eos: true } as OpenAI.CompletionCreateParamsStreaming, { signal: ctrl.signal });
    let got = 0;
    const e = await (async () => {
      for await (const ch of stream) {
        if (ch.choices[0]?.text) got++;
        if (got === 2) t.server.model.loseDeviceForTesting();
      }
    })().catch((x: unknown) => x);
    expect(e, String(e)).toBeInstanceOf(OpenAI.APIError);
    expect((e as InstanceType<typeof OpenAI.APIError>).code).toBe('device_lost');
    const during = await post(`${t.url}/v1/completions`, JSON.stringify({ prompt: [1], max_tokens: 2 }));
    expect([during.status, during.json.error?.type, during.headers.get('retry-after')]).toEqual([503, 'server_error', '5']);
    await t.server.model.whenReady();
    const after = await t.client.completions.create({ model: 'stories260K', prompt: [1], max_tokens: 5, ...greedy });
    expect(after.choices[0]!.text).toBe(KNOWN_TEXT.slice(0, after.choices[0]!.text.length));
    expect((await fetch(`${t.url}/health`).then((r) => r.json())).reloads).toBe(1);
  }, 120_000);
});

describe('hearth serve with API keys, CORS and a short queue', () => {
  let t: TestServer;
  const key = 'sk-test-0123456789abcdef';
  const logs: string[] = [];
  beforeAll(async () => {
    t = await startServer({ apiKeys: ['another-key-000', key], cors: ['https://app.example'], maxConcurrent: 1, maxQueue: 1, logger: { level: 'info', stream: { write: (l: string) => void logs.push(l) } } });
  }, 60_000);
  afterAll(async () => t?.close());

  it('needs the key: 401 without it or with a wrong one; /health and preflights are open', async () => {
    expect((await t.client.models.list()).data).toHaveLength(1);
    for (const apiKey of ['wrong-key-12345', key.slice(0, -1), `${key}x`]) {
      const other = new OpenAI({ baseURL: `${t.url}/v1`, apiKey, maxRetries: 0 });
      const e = await apiError(other.models.list());
      expect([e.status, e.code]).toEqual([401, 'invalid_api_key']);
    }
    const none = await fetch(`${t.url}/v1/models`);
    expect(none.status).toBe(401);
    expect((await none.json()).error.message).toMatch(/didn't provide an API key/);
    expect((await fetch(`${t.url}/health`)).status).toBe(200);
    const pre = await fetch(`${t.url}/v1/chat/completions`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' } });
    expect(pre.status).toBeLessThan(300);
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://app.example');
    const foreign = await fetch(`${t.url}/v1/models`, { headers: { origin: 'https://evil.example', authorization: `Bearer ${key}` } });
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
  }, 60_000);

  it('beyond the queue: 429 with Retry-After; the queued request still runs', async () => {
    const long = t.client.completions.create({ model: 'stories260K', prompt: [1], max_tokens: 60, ignore_eos: true } as OpenAI.CompletionCreateParamsNonStreaming);
    while (t.server.scheduler.stats.active === 0) await new Promise((r) => setTimeout(r, 5));
    const queued = t.client.completions.create({ model: 'stories260K', prompt: [1], max_tokens: 2 });
    while (t.server.scheduler.stats.queued === 0) await new Promise((r) => setTimeout(r, 5));
    const r = await post(`${t.url}/v1/completions`, JSON.stringify({ prompt: [1], max_tokens: 2 }), { 'content-type': 'application/json', authorization: `Bearer ${key}` });
    expect([r.status, r.json.error?.code, r.json.error?.type]).toEqual([429, 'rate_limit_exceeded', 'requests']);
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(t.server.requests.rejected).toBe(1);
    expect((await long).usage!.completion_tokens).toBe(60);
    expect((await queued).usage!.completion_tokens).toBe(2);
  }, 60_000);

  it('logs sizes and timings, never prompt or reply text nor keys, unless --log-content', async () => {
    const r = await t.client.chat.completions.create({ model: 'stories260K', messages: user('My secret is tangerine'), max_tokens: 4, temperature: 0 });
    const text = logs.join('');
    expect(text).toMatch(/"msg":"generation"/);
    expect(text).toContain(`"prompt_tokens":${r.usage!.prompt_tokens}`);
    for (const secret of ['tangerine', r.choices[0]!.message.content!, key]) expect(text).not.toContain(secret);
  }, 60_000);
});
