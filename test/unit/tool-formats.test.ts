/**
 * Tool-call formats (src/api/tools.ts) without a model: which format a chat template gets
 * (Qwen2.5/Hermes and Llama 3.x templates that render tools themselves, SmolLM2's and Gemma 3's
 * turn formats, anything else), calls written and parsed back in each, and the prompt messages
 * for templates with and without tool support.
 */
import { describe, expect, it } from 'vitest';
import { Template } from '@huggingface/jinja';
import type { ChatMessage, Tokenizer } from '../../src/tokenizer/index.js';
import { checkTools, parseToolCalls, renderToolCalls, toolFormatOf, toolGrammar, toolMessages, type ToolCall } from '../../src/api/tools.js';

/** Only what toolFormatOf reads: the chat template's rendering. */
function templated(text: string): Tokenizer {
  const t = new Template(text);
  return {
    applyChatTemplate: (messages: ChatMessage[], opts?: { tools?: unknown; addGenerationPrompt?: boolean }) =>
      t.render({ messages, tools: opts?.tools, add_generation_prompt: opts?.addGenerationPrompt ?? true, bos_token: '<s>' }),
  } as unknown as Tokenizer;
}

// the tool parts of Qwen2.5's and Llama 3.1's templates, shortened
const QWEN = `{% if tools %}<|im_start|>system\n# Tools\n<tools>{% for t in tools %}{{ t | tojson }}{% endfor %}</tools>\nFor each function call, return a json object within <tool_call></tool_call> XML tags<|im_end|>\n{% endif %}{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}<|im_start|>assistant\n`;
const LLAMA3 = `{% if tools %}<|start_header_id|>user<|end_header_id|>\nGiven the following functions, respond with a JSON for a function call with its proper arguments that best answers the given prompt.\nRespond in the format {"name": function name, "parameters": dictionary of argument name and its value}.{% for t in tools %}{{ t | tojson }}{% endfor %}<|eot_id|>{% endif %}{% for m in messages %}<|start_header_id|>{{ m.role }}<|end_header_id|>\n{{ m.content }}<|eot_id|>{% endfor %}`;
const SMOLLM2 = `{% for m in messages %}{% if loop.first and messages[0].role != 'system' %}<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n{% endif %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}<|im_start|>assistant\n`;
const GEMMA = `{{ bos_token }}{% for m in messages %}<start_of_turn>{{ 'model' if m.role == 'assistant' else m.role }}\n{{ m.content }}<end_of_turn>\n{% endfor %}<start_of_turn>model\n`;
const CHATML = `{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}<|im_start|>assistant\n`;

const FNS = checkTools([
  { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: { zone: { type: 'string' } } } } },
  { type: 'function', function: { name: 'add', parameters: { type: 'object', properties: { a: { type: 'integer' } } } } },
], 'auto').functions;

describe('tool formats', () => {
  it('each template gets its format: native Hermes/Qwen and Llama 3, SmolLM2, Gemma 3, generic', () => {
    expect([QWEN, LLAMA3, SMOLLM2, GEMMA, CHATML].map((t) => { const f = toolFormatOf(templated(t)); return `${f.name}${f.native ? '*' : ''}`; })).toEqual(['hermes*', 'llama3*', 'smollm2', 'gemma3', 'generic']);
  });

  it('calls written in each format parse back, with the text before them, nested JSON and braces in strings', () => {
    const calls: ToolCall[] = [
      { id: 'a', type: 'function', function: { name: 'get_time', arguments: '{"zone": "utc {x}"}' } },
      { id: 'b', type: 'function', function: { name: 'add', arguments: '{"a": 1, "more": {"b": [1, {"c": "}"}]}}' } },
    ];
    for (const t of [QWEN, LLAMA3, SMOLLM2, GEMMA, CHATML]) {
      const fmt = toolFormatOf(templated(t));
      const text = `Let me check.\n${renderToolCalls(fmt, calls)}`;
      const parsed = parseToolCalls(fmt, FNS, text);
      expect(parsed.content, fmt.name).toBe('Let me check.');
      expect(parsed.calls, fmt.name).toEqual(calls.map((c) => ({ name: c.function.name, arguments: c.function.arguments })));
      // an unfinished call is not a call
      expect(parseToolCalls(fmt, FNS, text.slice(0, -fmt.end.length - 2)).calls, fmt.name).toHaveLength(1);
    }
  });

  it('native templates get the tools and parsed arguments; others a system message, written calls and tool turns (user turns for Gemma)', () => {
    const call: ToolCall = { id: 'c1', type: 'function', function: { name: 'get_time', arguments: '{"zone": "utc"}' } };
    const history: ChatMessage[] = [{ role: 'user', content: 'Time?' }, { role: 'assistant', content: '', tool_calls: [call] }, { role: 'tool', tool_call_id: 'c1', content: '12:00' }];
    const qwen = toolMessages(toolFormatOf(templated(QWEN)), history, FNS);
    expect(qwen.tools).toHaveLength(2);
    expect((qwen.messages[1]!.tool_calls![0]!.function as unknown as { arguments: unknown }).arguments).toEqual({ zone: 'utc' });
    const gemma = toolMessages(toolFormatOf(templated(GEMMA)), history, FNS);
    expect(gemma.tools).toBeUndefined();
    expect(gemma.messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user']);
    expect(gemma.messages[0]!.content).toContain('"name":"get_time"');
    expect(gemma.messages[2]!.content).toBe('```tool_call\n{"name": "get_time", "arguments": {"zone": "utc"}}\n```');
    expect(gemma.messages[3]!.content).toBe('<tool_response>12:00</tool_response>');
    expect(toolMessages(toolFormatOf(templated(CHATML)), history, []).messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool']);
  });

  it('grammars: auto is triggered tags, required with parallel calls a separated list, one call an or of tags, named only that function', () => {
    const fmt = toolFormatOf(templated(CHATML));
    expect(toolGrammar(fmt, FNS, 'auto', true)).toMatchObject({ type: 'triggered_tags', triggers: ['<tool_call>'], stop_after_first: false });
    expect(toolGrammar(fmt, FNS, 'required', true)).toMatchObject({ type: 'tags_with_separator', at_least_one: true });
    expect(toolGrammar(fmt, FNS, 'required', false)).toMatchObject({ type: 'or' });
    expect(toolGrammar(fmt, FNS, { type: 'function', function: { name: 'add' } }, false)).toMatchObject({ type: 'tag', begin: '<tool_call>{"name": "add", "arguments": ' });
  });
});
