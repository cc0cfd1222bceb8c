/**
 * A real chat model, SmolLM2-135M-Instruct (Q4_1 GGUF from $HEARTH_MODELS), as a user meets it:
 * the CLI's --chat, a multi-turn ChatML conversation through the OpenAI-style API, and replies
 * that stop at <|im_end|> with no template tokens, stray spaces or broken bytes in the text.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createEngine, type NodeEngine } from '../../src/node.js';
import { SMOLLM2, realModel } from '../helpers/real-models.js';

const run = promisify(execFile);
const BIN = new URL('../../bin/hearth.js', import.meta.url).pathname;

let engine: NodeEngine;
beforeAll(async () => {
  engine = await createEngine({ model: realModel(SMOLLM2), contextLength: 512 });
}, 120_000);
afterAll(async () => engine?.unload());

/** What a user would call broken in a reply. */
function expectClean(text: string): void {
  expect(text).not.toMatch(/<\|im_(start|end)\|>|<\|endoftext\|>|im_start|im_end/);
  expect(text).not.toContain('\uFFFD');
  expect(text).toBe(text.trimStart());
  expect(text.trim().length).toBeGreaterThan(0);
}

describe('SmolLM2-135M-Instruct', () => {
  it('a decode step is 153 launches: embedding, 5 per layer (30 layers), LM head, greedy sampler', () => {
    expect(engine.info.dispatchesPerToken).toBe(153);
  });

  it('hearth generate --chat answers "What is the capital of France?" with Paris', async () => {
    const { stdout } = await run('node', [BIN, 'generate', '--model', SMOLLM2, '--chat', '--prompt', 'What is the capital of France?', '--max-tokens', '16', '--temperature', '0', '--json'], { timeout: 180_000 });
    const out = JSON.parse(stdout);
    expect(out.text).toMatch(/Paris/);
    expect(out.finish_reason).toBe('stop');
    expectClean(out.text);
    // the prompt is the ChatML rendering with the template's default system message and the generation prompt
    const rendered = engine.tokenizer.decode(out.prompt_ids, { skipSpecialTokens: false });
    expect(rendered).toMatch(/^<\|im_start\|>system\n.+<\|im_end\|>\n<\|im_start\|>user\nWhat is the capital of France\?<\|im_end\|>\n<\|im_start\|>assistant\n$/s);
  }, 180_000);

  it('--chat needs --prompt, and --system needs --chat', async () => {
    const fail = (args: string[]) => run('node', [BIN, 'generate', '--model', SMOLLM2, ...args]).then(() => ({ code: 0, stderr: '' }), (e: { code: number; stderr: string }) => e);
    const a = await fail(['--chat', '--prompt-ids', '1,2']);
    expect(a.code).toBe(1);
    expect(a.stderr).toMatch(/--chat needs --prompt/);
    const b = await fail(['--system', 'x', '--prompt', 'hi']);
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(/--system goes with --chat/);
  });

  it('a multi-turn chat renders every turn in ChatML, and streams the same text it returns', async () => {
    const messages = [
      { role: 'user', content: 'Hi! My name is Ana.' },
      { role: 'assistant', content: 'Hello Ana! How can I help you today?' },
      { role: 'user', content: 'Name one fruit.' },
    ];
    const r = await engine.chat.completions.create({ messages, max_tokens: 24, temperature: 0 });
    const text = r.choices[0]!.message.content!;
    expectClean(text);
    const rendered = engine.tokenizer.decode(r.hearth!.prompt_ids, { skipSpecialTokens: false });
    expect(rendered).toContain('<|im_start|>user\nHi! My name is Ana.<|im_end|>\n<|im_start|>assistant\nHello Ana! How can I help you today?<|im_end|>\n<|im_start|>user\nName one fruit.<|im_end|>\n<|im_start|>assistant\n');
    expect(r.usage.prompt_tokens).toBe(r.hearth!.prompt_ids.length);
    let streamed = '';
    for await (const c of await engine.chat.completions.create({ messages, max_tokens: 24, temperature: 0, stream: true })) streamed += c.choices[0]?.delta.content ?? '';
    expect(streamed).toBe(text);
  }, 180_000);
});
