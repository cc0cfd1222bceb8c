/**
 * Structured output and tool calling through the OpenAI-style API (src/api/structured.ts,
 * src/api/tools.ts) on real models: stories260K, which knows no JSON, must still produce JSON that
 * parses and validates (ajv) for every schema, streamed and not; SmolLM2-135M-Instruct for a few
 * (it runs at well under a token a second on SwiftShader, so it gets a small share). Tool calls
 * with each tool_choice form, a round trip, and the typed errors of bad schemas and grammars.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type NodeEngine } from '../../src/node.js';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionTool, ChatMessage } from '../../src/api/types.js';
import { isHearthError } from '../../src/errors.js';
import { STORIES } from '../helpers/stories.js';
import { SMOLLM2, realModel } from '../helpers/real-models.js';
import { SCHEMAS, ajv } from '../helpers/schemas.js';


function expectValid(schema: Record<string, unknown>, text: string): unknown {
  let value: unknown;
  expect(() => (value = JSON.parse(text)), `not JSON: ${text}`).not.toThrow();
  const validate = ajv.compile(schema);
  expect(validate(value), `${text} fails ${JSON.stringify(validate.errors)}`).toBe(true);
  return value;
}

async function streamedChat(engine: NodeEngine, params: Parameters<NodeEngine['chat']['completions']['create']>[0]): Promise<{ text: string; chunks: ChatCompletionChunk[] }> {
  const chunks: ChatCompletionChunk[] = [];
  for await (const c of await engine.chat.completions.create({ ...params, stream: true })) chunks.push(c);
  return { text: chunks.map((c) => c.choices[0]?.delta.content ?? '').join(''), chunks };
}

async function expectInvalid(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await p;
    expect.unreachable('the request should have been refused');
  } catch (e) {
    expect(isHearthError(e, 'INVALID_ARGUMENT'), String(e)).toBe(true);
    expect((e as Error).message).toMatch(pattern);
  }
}

const WEATHER: ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string', maxLength: 12 }, unit: { enum: ['c', 'f'] } }, required: ['city', 'unit'], additionalProperties: false },
  },
};
/** Each schema through chat (not streamed) and completions (streamed), seeded sampling: every reply ends, parses and validates. */
async function schemasHold(engine: NodeEngine, schemas: typeof SCHEMAS, maxTokens: number): Promise<void> {
  for (const [i, { name, schema }] of schemas.entries()) {
    const response_format = { type: 'json_schema' as const, json_schema: { name, schema, strict: true } };
    const r = await engine.chat.completions.create({ messages: [{ role: 'user', content: `Once upon a time (${name})` }], max_tokens: maxTokens, temperature: 1, seed: i, response_format });
    expect(r.choices[0]!.finish_reason, `${name}: ${r.choices[0]!.message.content}`).toBe('stop');
    expectValid(schema, r.choices[0]!.message.content!);
    let text = '';
    let finish: string | null = null;
    for await (const c of await engine.completions.create({ prompt: 'Lily saw a', max_tokens: maxTokens, temperature: 0.9, seed: 100 + i, response_format, stream: true })) {
      text += c.choices[0]!.text;
      finish = c.choices[0]!.finish_reason ?? finish;
    }
    expect(finish, `${name} streamed: ${text}`).toBe('stop');
    expectValid(schema, text);
  }
}

const TIME: ChatCompletionTool = {
  type: 'function',
  function: { name: 'get_time', description: 'The time in a zone', parameters: { type: 'object', properties: { zone: { enum: ['utc', 'cet'] } }, required: ['zone'], additionalProperties: false } },
};
const TOOLS = [WEATHER, TIME];
const paramsOf = (name: string) => TOOLS.find((t) => t.function.name === name)!.function.parameters!;

/** Each tool_choice form, and a round trip: required and named always give a valid call; the call and result render back. */
async function toolChoiceForms(engine: NodeEngine, maxTokens: number, callPrefix: string): Promise<void> {
    const messages: ChatMessage[] = [{ role: 'user', content: 'What is the weather in Paris?' }];
    for (const seed of [0]) {
      const req = await engine.chat.completions.create({ messages, tools: TOOLS, tool_choice: 'required', parallel_tool_calls: false, max_tokens: maxTokens, temperature: 1, seed });
      const c = req.choices[0]!;
      expect(c.finish_reason).toBe('tool_calls');
      expect(c.message.tool_calls).toHaveLength(1);
      const call = c.message.tool_calls![0]!;
      expect(call.type).toBe('function');
      expect(call.id).toMatch(/^call-/);
      expectValid(paramsOf(call.function.name), call.function.arguments);
    }
    const named = await engine.chat.completions.create({ messages, tools: TOOLS, tool_choice: { type: 'function', function: { name: 'get_time' } }, parallel_tool_calls: false, max_tokens: maxTokens, temperature: 1, seed: 5 });
    expect(named.choices[0]!.finish_reason).toBe('tool_calls');
    for (const call of named.choices[0]!.message.tool_calls!) {
      expect(call.function.name).toBe('get_time');
      expectValid(paramsOf('get_time'), call.function.arguments);
    }
    const none = await engine.chat.completions.create({ messages, tools: TOOLS, tool_choice: 'none', max_tokens: 12, temperature: 0 });
    expect(none.choices[0]!.message.tool_calls).toBeUndefined();
    expect(none.hearth.prompt_ids.length).toBeLessThan(named.hearth.prompt_ids.length); // no tool list in the prompt
    const auto = await engine.chat.completions.create({ messages, tools: TOOLS, tool_choice: 'auto', parallel_tool_calls: false, max_tokens: maxTokens, temperature: 1, seed: 2 });
    const a = auto.choices[0]!;
    if (a.message.tool_calls) {
      expect(a.finish_reason).toBe('tool_calls');
      for (const call of a.message.tool_calls) expectValid(paramsOf(call.function.name), call.function.arguments);
    } else {
      expect(typeof a.message.content).toBe('string');
    }

    // round trip: the call and its result go back through the template, and the model answers
    const call = named.choices[0]!.message.tool_calls![0]!;
    const back: ChatMessage[] = [...messages, { role: 'assistant', content: null as unknown as string, tool_calls: [call] }, { role: 'tool', tool_call_id: call.id, content: '{"time": "12:00"}' }];
    const answer = await engine.chat.completions.create({ messages: back, tools: TOOLS, tool_choice: 'none', max_tokens: 8, temperature: 0 });
    expect(typeof answer.choices[0]!.message.content).toBe('string');
    const rendered = engine.tokenizer.decode(answer.hearth.prompt_ids, { skipSpecialTokens: false });
    expect(rendered).toContain(`${callPrefix}${call.function.arguments}`);
    expect(rendered).toContain('<tool_response>{"time": "12:00"}</tool_response>');
}

describe('structured output on stories260K (a model that knows no JSON)', () => {
  let engine: NodeEngine;
  beforeAll(async () => {
    engine = await createEngine({ model: STORIES, contextLength: 1024 }); // the tool list takes ~440 of its byte-sized tokens
  }, 60_000);
  afterAll(async () => engine?.unload());

  it(`${SCHEMAS.length} schemas: every reply parses and validates, through chat (not streamed) and completions (streamed)`, () => schemasHold(engine, SCHEMAS, 120), 240_000);

  it('json_object, an EBNF grammar and a regex', async () => {
    const obj = await engine.chat.completions.create({ messages: [{ role: 'user', content: 'Tom' }], max_tokens: 60, temperature: 0, response_format: { type: 'json_object' } });
    // greedy on a story model may fill the budget inside a string: then it says so
    if (obj.choices[0]!.finish_reason === 'stop') expect(typeof JSON.parse(obj.choices[0]!.message.content!)).toBe('object');
    else expect(obj.choices[0]!.finish_reason).toBe('length');
    const g = await engine.chat.completions.create({ messages: [{ role: 'user', content: 'Tom' }], max_tokens: 20, temperature: 1, seed: 3, response_format: { type: 'grammar', grammar: 'root ::= answer " " answer\nanswer ::= "yes" | "no"' } });
    expect(g.choices[0]!.message.content).toMatch(/^(yes|no) (yes|no)$/);
    expect(g.choices[0]!.finish_reason).toBe('stop');
    const re = await engine.completions.create({ prompt: 'Tom', max_tokens: 20, temperature: 1, seed: 4, response_format: { type: 'regex', pattern: '[0-9]{3}-[a-c]{2}' } });
    expect(re.choices[0]!.text).toMatch(/^[0-9]{3}-[a-c]{2}$/);
    expect(re.choices[0]!.finish_reason).toBe('stop');
  }, 60_000);

  it('max_tokens reached inside a value is finish_reason length, never a cut "valid" object', async () => {
    const schema = { type: 'object', properties: { story: { type: 'string', minLength: 40 } }, required: ['story'] };
    const r = await engine.chat.completions.create({ messages: [{ role: 'user', content: 'Once' }], max_tokens: 6, temperature: 0, response_format: { type: 'json_schema', json_schema: { name: 's', schema } } });
    expect(r.choices[0]!.finish_reason).toBe('length');
    expect(() => JSON.parse(r.choices[0]!.message.content!)).toThrow();
  }, 30_000);

  it('bad schemas and grammars are INVALID_ARGUMENT naming the offending part, before any token', async () => {
    const chat = (response_format: unknown, stream = false) =>
      engine.chat.completions.create({ messages: [{ role: 'user', content: 'x' }], max_tokens: 4, response_format: response_format as never, stream });
    const js = (schema: unknown) => ({ type: 'json_schema', json_schema: { name: 'x', schema } });
    await expectInvalid(chat(js({ type: 'object', properties: { a: { type: 'strng' } } })), /\/properties\/a\/type .*"strng"/);
    await expectInvalid(chat(js({ type: 'object', properties: { a: { not: { type: 'null' } } } })), /\/properties\/a\/not .*cannot enforce/);
    await expectInvalid(chat(js({ type: 'array', items: { type: 'integer', multipleOf: 3 } })), /\/items\/multipleOf/);
    await expectInvalid(chat(js({ properties: { p: { $ref: '#/$defs/missing' } } })), /\/properties\/p\/\$ref .*#\/\$defs\/missing/);
    await expectInvalid(chat(js({ type: 'string', pattern: '([a-z' })), /\/pattern is not a valid regular expression/);
    await expectInvalid(chat(js({ type: 'array', minItems: 3, maxItems: 1 })), /minItems is larger than maxItems/);
    await expectInvalid(chat(js({ type: 'string', format: 'credit-card' })), /\/format .*"credit-card"/);
    await expectInvalid(chat(js({ type: 'object', properties: { s: { type: 'string', pattern: '^a+$', maxLength: 3 } } })), /\/properties\/s combines pattern and minLength\/maxLength/);
    await expectInvalid(chat(js({ type: 'object', properties: { p: { type: 'number', minimum: 0.5, maximum: 1.5 } } })), /\/properties\/p bounds a number to a range narrower/);
    await expectInvalid(chat({ type: 'json_schema', json_schema: { schema: {} } }), /json_schema needs a name/);
    await expectInvalid(chat({ type: 'xml' }), /response_format.type "xml" is not a type/);
    // the grammar compiler's own reason, for a rule that is never defined; streams fail at create()
    await expectInvalid(chat({ type: 'grammar', grammar: 'root ::= "a" missing_rule' }, true), /response_format.grammar does not compile.*missing_rule/);
    await expectInvalid(chat({ type: 'regex', pattern: '(' }), /pattern is not a valid regular expression/);
    await expectInvalid(engine.chat.completions.create({ messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { q: { type: 'object', dependentRequired: {} } } } } }] }), /tools\[0\].function.parameters: \/properties\/q\/dependentRequired/);
    await expectInvalid(engine.chat.completions.create({ messages: [{ role: 'user', content: 'x' }], tools: TOOLS, tool_choice: { type: 'function', function: { name: 'nope' } } }), /tool_choice.function.name "nope"/);
    await expectInvalid(engine.chat.completions.create({ messages: [{ role: 'user', content: 'x' }], tools: TOOLS, response_format: { type: 'json_object' } }), /response_format cannot shape a reply that may call tools/);
    // the engine still works after refusals
    const ok = await chat({ type: 'grammar', grammar: 'root ::= "ok"' });
    expect((ok as ChatCompletion).choices[0]!.message.content).toBe('ok');
  }, 60_000);

  it('tools with each tool_choice: required and named always give a valid call; auto text or calls; none no calls; a round trip', () => toolChoiceForms(engine, 200, '<tool_call>{"name": "get_time", "arguments": '), 120_000);

  it('sessions keep tool calls and tool results like any message, and render them back', async () => {
    const call = { id: 'call-1', type: 'function' as const, function: { name: 'get_time', arguments: '{"zone": "utc"}' } };
    const messages: ChatMessage[] = [
      { role: 'user', content: 'Time?' },
      { role: 'assistant', content: null as unknown as string, tool_calls: [call] },
      { role: 'tool', tool_call_id: 'call-1', content: '{"time": "09:00"}' },
    ];
    const info = await engine.sessions.create({ messages });
    const kept = (await engine.sessions.get(info.id)).messages;
    expect(kept[1]).toEqual({ role: 'assistant', content: '', tool_calls: [call] });
    expect(kept[2]).toEqual({ role: 'tool', tool_call_id: 'call-1', content: '{"time": "09:00"}' });
    const r = await engine.sessions.chat(info.id, { max_tokens: 4, temperature: 0 });
    const rendered = engine.tokenizer.decode(r.hearth.prompt_ids, { skipSpecialTokens: false });
    expect(rendered).toContain('<tool_call>{"name": "get_time", "arguments": {"zone": "utc"}}</tool_call>');
    expect(rendered).toContain('<tool_response>{"time": "09:00"}</tool_response>');
    // a turn with tools: the call comes back as in chat.completions (streamed as deltas) and is kept with the reply
    let deltas = '';
    let finish: string | null = null;
    for await (const c of await engine.sessions.chat(info.id, { message: 'And in CET?', tools: [TIME], tool_choice: 'required', parallel_tool_calls: false, max_tokens: 200, temperature: 1, seed: 4, stream: true })) {
      deltas += (c.choices[0]?.delta.tool_calls ?? []).map((d) => d.function.arguments).join('');
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    expect(finish).toBe('tool_calls');
    expectValid(paramsOf('get_time'), deltas);
    const last = (await engine.sessions.get(info.id)).messages.at(-1)!;
    expect(last.role).toBe('assistant');
    expect(last.tool_calls![0]!.function).toEqual({ name: 'get_time', arguments: deltas });
    await engine.sessions.delete(info.id);
  }, 60_000);

  it('streamed tool calls arrive as OpenAI sends them: id, type and name, then the arguments', async () => {
    const { chunks } = await streamedChat(engine, { messages: [{ role: 'user', content: 'Weather?' }], tools: TOOLS, tool_choice: 'required', parallel_tool_calls: false, max_tokens: 200, temperature: 1, seed: 9 });
    const deltas = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(deltas.length).toBeGreaterThanOrEqual(2);
    expect(deltas[0]).toMatchObject({ index: 0, type: 'function', function: { arguments: '' } });
    expect(deltas[0]!.id).toMatch(/^call-/);
    const byIndex = new Map<number, { name: string; args: string }>();
    for (const d of deltas) {
      const e = byIndex.get(d.index) ?? { name: '', args: '' };
      e.name += d.function.name ?? '';
      e.args += d.function.arguments;
      byIndex.set(d.index, e);
    }
    for (const { name, args } of byIndex.values()) expectValid(paramsOf(name), args);
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('tool_calls');
    expect(chunks.some((c) => c.choices[0]?.delta.content)).toBe(false);
  }, 60_000);
});

/** SmolLM2 decodes at well under a token a second on SwiftShader: npm test runs a short version; HEARTH_STRUCTURED_FULL=1 runs every schema and tool_choice form. */
const FULL = process.env.HEARTH_STRUCTURED_FULL === '1';

describe('structured output and tools on SmolLM2-135M-Instruct', () => {
  let engine: NodeEngine;
  beforeAll(async () => {
    engine = await createEngine({ model: realModel(SMOLLM2), contextLength: 1024 });
  }, 120_000);
  afterAll(async () => engine?.unload());

  if (FULL) {
    it(`${SCHEMAS.length} schemas, chat and completions, streamed and not`, () => schemasHold(engine, SCHEMAS, 120), 3_600_000);
    it('each tool_choice form and a round trip', () => toolChoiceForms(engine, 80, '<tool_call>[{"name": "get_time", "arguments": '), 3_600_000);
  }

  it('a schema, streamed: parses and validates', async () => {
    const color = SCHEMAS.find((s) => s.name === 'enum_color')!;
    const s = await streamedChat(engine, { messages: [{ role: 'user', content: 'Pick a color.' }], max_tokens: 12, temperature: 0, response_format: { type: 'json_schema', json_schema: { name: color.name, schema: color.schema } } });
    expect(s.chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop');
    expectValid(color.schema, s.text);
  }, 240_000);

  // ~5 minutes on a loaded 2-core SwiftShader machine: with the full run
  it.runIf(FULL)("a required tool call in SmolLM2's format, with valid arguments", async () => {
    const r = await engine.chat.completions.create({ messages: [{ role: 'user', content: 'What time is it in UTC?' }], tools: [TIME], tool_choice: 'required', parallel_tool_calls: false, max_tokens: 40, temperature: 0 });
    const c = r.choices[0]!;
    expect(c.finish_reason, c.message.content ?? '').toBe('tool_calls');
    expect(c.message.tool_calls![0]!.function.name).toBe('get_time');
    expectValid(paramsOf('get_time'), c.message.tool_calls![0]!.function.arguments);
    const rendered = engine.tokenizer.decode(r.hearth.prompt_ids, { skipSpecialTokens: false });
    expect(rendered).toContain('<tool_call>[{"name": "function_name", "arguments": {"argument": "value"}}]</tool_call>');
    expect(rendered).toContain('"name":"get_time"');
  }, 400_000);
});
