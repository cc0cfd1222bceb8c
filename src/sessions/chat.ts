/** Prompt rendering and OpenAI-style results for a session's turn. */
import type { GenerateResult } from '../engine/engine.js';
import type { ChatCompletion, ChatCompletionChunk } from '../api/types.js';
import { checkChatMessages, extrasOf, templateMessages, usageOf } from '../api/openai.js';
import { toolFormatOf, toolMessages, type FunctionDefinition } from '../api/tools.js';
import type { ChatMessage, Tokenizer } from '../tokenizer/index.js';

const plainRenderers = new WeakMap<Tokenizer, boolean>();

/**
 * Whether the tokenizer falls back to the plain renderer (message texts joined by '\n', no
 * generation prompt), as for base models like stories260K.
 */
function rendersPlain(t: Tokenizer): boolean {
  let plain = plainRenderers.get(t);
  if (plain === undefined) {
    try {
      const two = t.applyChatTemplate([{ role: 'user', content: '\u0001' }, { role: 'assistant', content: '\u0002' }], { addGenerationPrompt: false });
      const open = t.applyChatTemplate([{ role: 'user', content: '\u0001' }], { addGenerationPrompt: true });
      plain = two === '\u0001\n\u0002' && open === '\u0001';
    } catch {
      plain = false;
    }
    plainRenderers.set(t, plain);
  }
  return plain;
}

/**
 * The token ids of a conversation, ready to generate the next reply. With the plain renderer the
 * reply is prompted after the '\n' that the next turn's rendering puts before it: otherwise the
 * reply's KV, computed right after the user's text, would never match the next prompt, and
 * every turn would prefill the previous reply again.
 */
export function renderPrompt(t: Tokenizer, given: ChatMessage[], functions: FunctionDefinition[] = []): number[] {
  let messages = templateMessages(given);
  let tools: unknown;
  // tools, and earlier tool calls and results, render as chat.completions renders them
  if (functions.length || messages.some((m) => m.role === 'tool' || m.tool_calls?.length)) ({ messages, tools } = toolMessages(toolFormatOf(t), messages, functions));
  if (!rendersPlain(t)) return t.encodeChat(messages, { addGenerationPrompt: true, ...(tools ? { tools } : {}) });
  const text = `${t.applyChatTemplate(messages, { addGenerationPrompt: true })}\n`;
  const bos = t.bosId === null ? undefined : t.idToToken(t.bosId);
  return t.encode(text, { addSpecialTokens: !(bos && text.startsWith(bos)) });
}

/**
 * A message as a session keeps it: role and content ('' for a turn that only calls tools), and its
 * tool calls or the call it answers when present; nothing else the caller's object carries.
 */
export function storedMessage(m: ChatMessage): ChatMessage {
  return {
    role: m.role,
    content: m.content ?? '',
    ...(m.tool_calls?.length ? { tool_calls: m.tool_calls.map((c) => ({ id: c.id, type: 'function' as const, function: { name: c.function.name, arguments: c.function.arguments } })) } : {}),
    ...(typeof m.tool_call_id === 'string' ? { tool_call_id: m.tool_call_id } : {}),
    ...(typeof m.name === 'string' ? { name: m.name } : {}),
  };
}

/** The API's message rules (shape and role), for session messages too. */
export function checkMessages(messages: unknown, field: string): asserts messages is ChatMessage[] {
  checkChatMessages(messages, field);
}

let counter = 0;
export const completionId = () => `chatcmpl-s${Date.now().toString(36)}${(counter++).toString(36)}`;

export function completionOf(id: string, created: number, model: string, promptIds: number[], r: GenerateResult): ChatCompletion {
  return {
    id,
    object: 'chat.completion',
    created,
    model,
    choices: [{ index: 0, message: { role: 'assistant', content: r.text }, finish_reason: r.finishReason, logprobs: null }],
    usage: usageOf(r),
    hearth: extrasOf(promptIds, r),
  };
}

export function chunkOf(id: string, created: number, model: string, delta: ChatCompletionChunk['choices'][number]['delta']): ChatCompletionChunk {
  return { id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, finish_reason: null, logprobs: null }] };
}
