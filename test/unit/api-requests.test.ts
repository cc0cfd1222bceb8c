/**
 * Request checks of the OpenAI-style API (issue 16): unknown roles, out-of-range log-probability
 * counts, n other than 1, unknown or unsupported parameters and wrongly typed values are
 * INVALID_ARGUMENT naming the parameter, as OpenAI answers; what OpenAI's SDK and Hearth's own
 * callers send is accepted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveModelSource } from '../../src/hub/resolve.js';
import type { Engine } from '../../src/engine/engine.js';
import { createOpenAIApi, type OpenAIApi } from '../../src/api/openai.js';
import { HearthError } from '../../src/errors.js';
import type { ChatCompletionCreateParams } from '../../src/api/types.js';
import { Sessions } from '../../src/sessions/sessions.js';
import { MemorySessionStore } from '../../src/sessions/store.js';
import { engineFor } from '../helpers/models.js';
import { STORIES } from '../helpers/stories.js';

let engine: Engine;
let api: OpenAIApi;
beforeAll(async () => {
  engine = await engineFor(await resolveModelSource(STORIES), 64);
  api = createOpenAIApi(engine, 'stories260K');
});
afterAll(async () => engine?.unload());

async function rejects(p: Promise<unknown>, message: RegExp, param?: string): Promise<HearthError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e, 'expected a HearthError').toBeInstanceOf(HearthError);
  const he = e as HearthError;
  expect(he.code, he.message).toBe('INVALID_ARGUMENT');
  expect(he.message).toMatch(message);
  if (param) expect(he.details?.param).toBe(param);
  return he;
}

const user = [{ role: 'user', content: 'Once upon a time' }];

describe('chat.completions.create', () => {
  it('refuses an unknown role, naming it', async () => {
    await rejects(api.chat.completions.create({ messages: [{ role: 'user', content: 'hi' }, { role: 'wizard', content: 'abracadabra' }] }), /messages\[1\]\.role "wizard" is not a role/, 'messages[1].role');
    await rejects(api.chat.completions.create({ messages: [{ role: 'wizard', content: 'x' }], stream: true }), /"wizard"/);
  });

  it('accepts system, developer (as system), user, assistant and tool', async () => {
    const dev = await api.chat.completions.create({ messages: [{ role: 'developer', content: 'Be brief.' }, ...user], max_tokens: 1, temperature: 0 });
    const sys = await api.chat.completions.create({ messages: [{ role: 'system', content: 'Be brief.' }, ...user], max_tokens: 1, temperature: 0 });
    expect(dev.hearth.prompt_ids).toEqual(sys.hearth.prompt_ids);
    const all = await api.chat.completions.create({ messages: ['system', 'user', 'assistant', 'tool', 'user'].map((role) => ({ role, content: 'x' })), max_tokens: 1 });
    expect(all.choices[0]!.message.role).toBe('assistant');
  });

  it('top_logprobs outside 0..20, n other than 1: typed errors naming the parameter', async () => {
    for (const v of [21, -1, 1000, 2.5]) await rejects(api.chat.completions.create({ messages: user, logprobs: true, top_logprobs: v }), /top_logprobs must be an integer from 0 to 20/, 'top_logprobs');
    await rejects(api.chat.completions.create({ messages: user, n: 2 }), /^n must be an integer from 1 to 1/, 'n');
    const ok = await api.chat.completions.create({ messages: user, logprobs: true, top_logprobs: 20, n: 1, max_tokens: 1 });
    expect(ok.choices[0]!.logprobs!.content[0]!.top_logprobs).toHaveLength(20);
  });

  it('unknown and unsupported parameters and wrong types are refused by name', async () => {
    const p = (extra: Record<string, unknown>) => api.chat.completions.create({ messages: user, ...extra } as never);
    await rejects(p({ foo: 1 }), /Unrecognized request argument supplied: foo/, 'foo');
    await rejects(p({ max_token: 5 }), /Unrecognized request argument supplied: max_token/, 'max_token');
    // tools and response_format are supported (structured-output.test.ts); malformed ones are refused by name
    await rejects(p({ tools: [{ type: 'function', function: { name: 'no spaces' } }] }), /tools\[0\].function.name must be/, 'tools[0].function.name');
    await rejects(p({ response_format: { type: 'json_schema' } }), /response_format.json_schema json_schema needs a name/, 'response_format.json_schema');
    await rejects(p({ parallel_tool_calls: 'yes' }), /parallel_tool_calls must be a boolean/, 'parallel_tool_calls');
    await rejects(p({ logit_bias: { 5: 100 } }), /logit_bias is not supported/, 'logit_bias');
    await rejects(p({ temperature: 'hot' }), /temperature must be a number, got "hot"/, 'temperature');
    await rejects(p({ max_tokens: 1.5 }), /max_tokens must be an integer/, 'max_tokens');
    await rejects(p({ seed: 'x' }), /seed must be an integer/, 'seed');
    await rejects(p({ stop: 5 }), /stop must be/, 'stop');
    await rejects(p({ stop_token_ids: 'x' }), /stop_token_ids must be a list of token ids/, 'stop_token_ids');
    await rejects(p({ logprobs: 'yes' }), /logprobs must be a boolean/, 'logprobs');
  });

  it("accepts what OpenAI's SDK and Hearth's own callers send", async () => {
    const r = await api.chat.completions.create({
      messages: user,
      model: 'stories260K',
      max_tokens: 2,
      max_completion_tokens: 2,
      temperature: 0,
      top_p: 1,
      top_k: 0,
      min_p: 0,
      seed: 7,
      stop: ['zzz'],
      stop_token_ids: [],
      ignore_eos: false,
      user: 'u1',
      metadata: { app: 'test' },
      store: false,
      stream_options: { include_usage: true },
      response_format: { type: 'text' },
      tools: [],
      tool_choice: 'none',
      parallel_tool_calls: false,
      n: 1,
      frequency_penalty: 0,
      presence_penalty: 0,
      repetition_penalty: 1,
      logit_bias: {},
      logprobs: false,
      top_logprobs: null,
      service_tier: 'auto',
      stream: false,
      signal: new AbortController().signal,
    } as ChatCompletionCreateParams & { stream: false });
    expect(r.usage.completion_tokens).toBeGreaterThan(0);
  });
});

describe('completions.create', () => {
  it('logprobs outside 0..20, n and best_of other than 1, unknown parameters', async () => {
    for (const v of [21, -1, 1000]) await rejects(api.completions.create({ prompt: [1], logprobs: v }), /logprobs must be an integer from 0 to 20/, 'logprobs');
    await rejects(api.completions.create({ prompt: [1], n: 3 }), /^n must be/, 'n');
    await rejects(api.completions.create({ prompt: [1], best_of: 2 } as never), /best_of/, 'best_of');
    await rejects(api.completions.create({ prompt: [1], messages: user } as never), /Unrecognized request argument supplied: messages/, 'messages');
    await rejects(api.completions.create({ prompt: [1], suffix: 'end' } as never), /suffix is not supported/, 'suffix');
    const r = await api.completions.create({ prompt: [1], logprobs: 5, max_tokens: 1, echo: false, user: 'u', seed: 1 });
    expect(Object.keys(r.choices[0]!.logprobs!.top_logprobs![0]!)).toHaveLength(5);
  });
});

describe('sessions.chat', () => {
  it('refuses an unknown role in session messages too', async () => {
    const sessions = new Sessions({ store: new MemorySessionStore(), engine: () => engine, modelName: () => 'stories260K', lockPrefix: 'api-requests-test' });
    await rejects(sessions.create({ messages: [{ role: 'wizard', content: 'x' }] }), /messages\[0\]\.role "wizard"/);
    const { id } = await sessions.create({});
    await rejects(sessions.chat(id, { message: { role: 'wizard', content: 'x' } }), /message\[0\]\.role "wizard"/);
  });
});
