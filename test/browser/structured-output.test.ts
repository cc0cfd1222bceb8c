/**
 * Structured output in the browser worker (headless Chromium, SwiftShader): stories260K from a
 * local Hub endpoint, a few schemas through chat (streamed and not) whose replies must parse and
 * validate, a required tool call with valid arguments, and a bad schema's typed error across the
 * worker boundary. The grammar engine's wasm is inside the bundle: every request stays local.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright';
import { readFileSync } from 'node:fs';
import { launchChromium } from '../helpers/browser.js';
import { callPage, openTestPage, servePages, type PageServers } from '../helpers/pages.js';
import { STORIES } from '../helpers/stories.js';
import { SCHEMAS, ajv } from '../helpers/schemas.js';


let servers: PageServers;
let browser: Browser;
let page: Page;
const requests: string[] = [];
const call = <T>(fn: string, ...args: unknown[]): Promise<T> => callPage<T>(page, fn, ...args);

beforeAll(async () => {
  servers = await servePages({ 'tinyllamas/stories260K/stories260K.gguf': readFileSync(STORIES) });
  browser = await launchChromium();
  const context = await browser.newContext();
  context.on('request', (r) => requests.push(r.url()));
  page = await openTestPage(context, `${servers.base}test/browser/pages/structured.html`);
  await call('load', 'tinyllamas/stories260K', servers.endpoint);
}, 180_000);

afterAll(async () => {
  if (page) await call('unload').catch(() => undefined);
  await browser?.close();
  await servers?.close();
});

describe('structured output in the browser worker', () => {
  it('schemas through chat, streamed and not: every reply parses and validates', async () => {
    const picked = SCHEMAS.filter((s) => ['person', 'enum_color', 'nested', 'ref_defs', 'root_array'].includes(s.name));
    const out = await call<{ name: string; text: string; finish: string; streamed: string; streamedFinish: string }[]>('schemas', picked);
    expect(out).toHaveLength(picked.length);
    for (const [i, r] of out.entries()) {
      const validate = ajv.compile(picked[i]!.schema);
      for (const [text, finish] of [[r.text, r.finish], [r.streamed, r.streamedFinish]]) {
        expect(finish, `${r.name}: ${text}`).toBe('stop');
        expect(validate(JSON.parse(text!)), `${r.name}: ${text} ${JSON.stringify(validate.errors)}`).toBe(true);
      }
    }
  }, 300_000);

  it('a required tool call with valid arguments, and a bad schema refused by name across the worker', async () => {
    const params = { type: 'object', properties: { zone: { enum: ['utc', 'cet'] } }, required: ['zone'], additionalProperties: false };
    const r = await call<{ finish: string; calls: { function: { name: string; arguments: string } }[] }>('toolCall', [{ type: 'function', function: { name: 'get_time', description: 'The time', parameters: params } }]);
    expect(r.finish).toBe('tool_calls');
    expect(r.calls[0]!.function.name).toBe('get_time');
    expect(ajv.compile(params)(JSON.parse(r.calls[0]!.function.arguments))).toBe(true);
    const bad = await call<{ code: string; message: string } | null>('badSchema');
    expect(bad?.code).toBe('INVALID_ARGUMENT');
    expect(bad?.message).toMatch(/\/properties\/a\/not/);
    // the grammar engine (wasm inlined in its package) was bundled: nothing was fetched from elsewhere
    expect(requests.filter((u) => !u.startsWith('http://127.0.0.1') && !u.startsWith('blob:') && !u.startsWith('data:'))).toEqual([]);
  }, 180_000);
});
