// Structured output and a tool call through the public API, the engine in its Web Worker; the test
// validates what comes back (test/browser/structured-output.test.ts).
import { createEngine, isHearthError, type BrowserEngine } from '../../../src/index.js';

let engine: BrowserEngine | null = null;

const api = {
  async load(model: string, endpoint: string) {
    engine = await createEngine({ model, endpoint, contextLength: 1024 });
    return engine.info.model;
  },

  /** Each schema through chat, not streamed and streamed: the texts and finish reasons. */
  async schemas(list: { name: string; schema: Record<string, unknown> }[]) {
    const out: { name: string; text: string; finish: string | null; streamed: string; streamedFinish: string | null }[] = [];
    for (const [i, { name, schema }] of list.entries()) {
      const response_format = { type: 'json_schema' as const, json_schema: { name, schema } };
      const messages = [{ role: 'user', content: 'Once upon a time' }];
      const r = await engine!.chat.completions.create({ messages, max_tokens: 120, temperature: 1, seed: i, response_format });
      let streamed = '';
      let streamedFinish: string | null = null;
      for await (const c of await engine!.chat.completions.create({ messages, max_tokens: 120, temperature: 1, seed: 50 + i, response_format, stream: true })) {
        streamed += c.choices[0]?.delta.content ?? '';
        streamedFinish = c.choices[0]?.finish_reason ?? streamedFinish;
      }
      out.push({ name, text: r.choices[0]!.message.content ?? '', finish: r.choices[0]!.finish_reason, streamed, streamedFinish });
    }
    return out;
  },

  async toolCall(tools: unknown) {
    const r = await engine!.chat.completions.create({ messages: [{ role: 'user', content: 'Time?' }], tools: tools as never, tool_choice: 'required', parallel_tool_calls: false, max_tokens: 200, temperature: 1, seed: 3 });
    return { finish: r.choices[0]!.finish_reason, calls: r.choices[0]!.message.tool_calls ?? [] };
  },

  async badSchema() {
    try {
      await engine!.chat.completions.create({ messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', properties: { a: { not: {} } } } } } });
      return null;
    } catch (e) {
      return isHearthError(e) ? { code: e.code, message: e.message } : { code: 'UNKNOWN', message: String(e) };
    }
  },

  async unload() {
    await engine?.unload();
    engine = null;
  },
};

(window as unknown as { hearthTest: typeof api; ready: boolean }).hearthTest = api;
(window as unknown as { ready: boolean }).ready = true;
