/**
 * OpenAI-shaped tool calling on any model: the request's `tools` and `tool_choice` checked, the
 * model's own call format picked from its chat template, tool definitions, calls and results
 * rendered into the prompt, the call constrained by a structural-tag grammar built from the
 * functions' JSON Schemas (so the arguments always validate), and the reply parsed back into
 * `tool_calls`.
 */
import { HearthError } from '../errors.js';
import type { StructuralTagFormat } from '@mlc-ai/web-xgrammar';
import type { ChatMessage, Tokenizer } from '../tokenizer/index.js';
import { checkJsonSchema } from './structured.js';

export interface FunctionDefinition {
  name: string;
  description?: string;
  parameters?: Record<string, unknown>;
  strict?: boolean | null;
}

export interface ChatCompletionTool {
  type: 'function';
  function: FunctionDefinition;
}

export type ToolChoice = 'auto' | 'none' | 'required' | { type: 'function'; function: { name: string } };

export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** A model's tool-call format: how one call is written, how results come back. */
export interface ToolFormat {
  /** 'hermes' (Qwen2.5, Hermes: <tool_call> JSON), 'llama3' (JSON with "parameters"), 'smollm2', 'gemma3', or 'generic'. */
  name: 'hermes' | 'llama3' | 'smollm2' | 'gemma3' | 'generic';
  /** The chat template renders `tools`, assistant tool_calls and tool messages itself. */
  native: boolean;
  /** Text before a call's arguments. */
  begin(name: string): string;
  /** Text after a call's arguments. */
  end: string;
  /** Text every call starts with (what switches from free text to a call). */
  trigger: string;
  /** Between parallel calls. */
  separator: string;
}

const q = JSON.stringify;

const FORMATS: Record<ToolFormat['name'], Omit<ToolFormat, 'native'>> = {
  hermes: { name: 'hermes', begin: (n) => `<tool_call>\n{"name": ${q(n)}, "arguments": `, end: '}\n</tool_call>', trigger: '<tool_call>', separator: '\n' },
  llama3: { name: 'llama3', begin: (n) => `{"name": ${q(n)}, "parameters": `, end: '}', trigger: '{"name": ', separator: '; ' },
  // SmolLM2-Instruct's function-calling format (its model card): calls inside <tool_call> as a JSON list
  smollm2: { name: 'smollm2', begin: (n) => `<tool_call>[{"name": ${q(n)}, "arguments": `, end: '}]</tool_call>', trigger: '<tool_call>', separator: '\n' },
  // Gemma 3 defines no tokens for tools; Google's guide has the model write calls in a fenced block
  gemma3: { name: 'gemma3', begin: (n) => `\`\`\`tool_call\n{"name": ${q(n)}, "arguments": `, end: '}\n```', trigger: '```tool_call', separator: '\n' },
  generic: { name: 'generic', begin: (n) => `<tool_call>{"name": ${q(n)}, "arguments": `, end: '}</tool_call>', trigger: '<tool_call>', separator: '\n' },
};

const PROBE_NAME = 'hearth_probe_function_7f3a';

/**
 * The tool format of a model, from what its chat template renders: a template that writes the
 * tools it is given is native (its own markers decide the format: <tool_call> for Qwen2.5/Hermes,
 * "parameters" JSON for Llama 3.x); otherwise SmolLM2's and Gemma 3's turn formats get their
 * models' documented formats, and any other model the generic one.
 */
export function toolFormatOf(tokenizer: Tokenizer): ToolFormat {
  const plain = safeRender(tokenizer, [{ role: 'user', content: 'x' }]);
  const probe = safeRender(tokenizer, [{ role: 'user', content: 'x' }], [{ type: 'function', function: { name: PROBE_NAME, description: 'probe', parameters: { type: 'object', properties: {} } } }]);
  const native = probe.includes(PROBE_NAME);
  if (native && probe.includes('<tool_call>')) return { ...FORMATS.hermes, native };
  if (native && (probe.includes('"parameters"') || probe.includes('<|python_tag|>') || probe.includes('ipython'))) return { ...FORMATS.llama3, native };
  if (plain.includes('SmolLM')) return { ...FORMATS.smollm2, native: false };
  if (plain.includes('<start_of_turn>')) return { ...FORMATS.gemma3, native: false };
  return { ...FORMATS.generic, native: false };
}

function safeRender(tokenizer: Tokenizer, messages: ChatMessage[], tools?: unknown): string {
  try {
    return tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true, ...(tools ? { tools } : {}) });
  } catch {
    return '';
  }
}

const toolError = (param: string, what: string, hint: string): HearthError => new HearthError('INVALID_ARGUMENT', `${param} ${what}`, { hint, details: { param } });

/** Checks `tools` and `tool_choice`; returns the functions a call may name (none when tool_choice is 'none'). */
export function checkTools(tools: unknown, choice: unknown): { functions: FunctionDefinition[]; choice: ToolChoice } {
  if (tools === undefined || tools === null) {
    if (choice !== undefined && choice !== null && choice !== 'none' && choice !== 'auto') throw toolError('tool_choice', 'needs tools.', 'Give tools, or leave tool_choice out.');
    return { functions: [], choice: 'none' };
  }
  if (!Array.isArray(tools)) throw toolError('tools', 'must be a list of {type: "function", function: {name, description, parameters}}.', 'Give a list of function tools.');
  const names = new Set<string>();
  const functions = tools.map((t: unknown, i) => {
    const p = `tools[${i}]`;
    const tt = t as Partial<ChatCompletionTool> | null;
    if (!tt || typeof tt !== 'object' || tt.type !== 'function' || !tt.function || typeof tt.function !== 'object') throw toolError(p, 'must be {type: "function", function: {...}}.', 'Hearth calls function tools.');
    const f = tt.function;
    if (typeof f.name !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(f.name)) throw toolError(`${p}.function.name`, 'must be 1-64 letters, digits, _ or -.', 'Rename the function.');
    if (names.has(f.name)) throw toolError(`${p}.function.name`, `repeats the name ${q(f.name)}.`, 'Give each function its own name.');
    names.add(f.name);
    if (f.parameters !== undefined) checkJsonSchema(f.parameters, `${p}.function.parameters`);
    return f;
  });
  let c: ToolChoice = 'auto';
  if (choice === undefined || choice === null) c = functions.length ? 'auto' : 'none';
  else if (choice === 'auto' || choice === 'none' || choice === 'required') c = choice;
  else if (typeof choice === 'object' && (choice as { type?: unknown }).type === 'function') {
    const name = (choice as { function?: { name?: unknown } }).function?.name;
    if (typeof name !== 'string' || !names.has(name)) throw toolError('tool_choice.function.name', `${q(name)} is not one of the tools.`, `Name one of ${[...names].join(', ')}.`);
    c = { type: 'function', function: { name } };
  } else {
    throw toolError('tool_choice', `must be auto, none, required or {type: "function", function: {name}}, got ${q(choice)}.`, 'Use one of those.');
  }
  if (functions.length === 0 && (c === 'required' || typeof c === 'object')) throw toolError('tool_choice', 'asks for a call, but tools is empty.', 'Give tools.');
  return { functions, choice: c };
}

/** The grammar of the reply: a call (or calls) for required/named, text or calls for auto. */
export function toolGrammar(fmt: ToolFormat, functions: FunctionDefinition[], choice: ToolChoice, parallel: boolean): StructuralTagFormat {
  const named = typeof choice === 'object' ? functions.filter((f) => f.name === choice.function.name) : functions;
  const tags = named.map((f) => ({ type: 'tag' as const, begin: fmt.begin(f.name), content: { type: 'json_schema' as const, json_schema: f.parameters ?? { type: 'object' } }, end: fmt.end }));
  if (choice === 'auto') return { type: 'triggered_tags', triggers: [fmt.trigger], tags, at_least_one: false, stop_after_first: !parallel };
  if (parallel) return { type: 'tags_with_separator', tags, separator: fmt.separator, at_least_one: true, stop_after_first: false };
  return tags.length === 1 ? tags[0]! : { type: 'or', elements: tags };
}

/** The system text that tells a model without native tool support what it may call, and how. */
export function toolSystemText(fmt: ToolFormat, functions: FunctionDefinition[]): string {
  const list = functions.map((f) => JSON.stringify({ name: f.name, description: f.description ?? '', parameters: f.parameters ?? { type: 'object' } })).join('\n');
  const example = `${fmt.begin('function_name')}{"argument": "value"}${fmt.end}`;
  return `You can call these functions:\n${list}\nTo call one, reply with:\n${example}`;
}

/** An assistant message's tool calls, written as the model writes them. */
export function renderToolCalls(fmt: ToolFormat, calls: readonly ToolCall[]): string {
  return calls.map((c) => `${fmt.begin(c.function.name)}${c.function.arguments}${fmt.end}`).join(fmt.separator);
}

/**
 * The messages as the chat template sees them. A native template gets the tools, and messages
 * as OpenAI sends them (arguments parsed back into objects, as Hugging Face templates expect).
 * Otherwise the tool list joins the system message, assistant tool calls become their text, and
 * tool results come back as 'tool' turns (user turns for Gemma, whose template has only two roles).
 */
export function toolMessages(fmt: ToolFormat, messages: readonly ChatMessage[], functions: FunctionDefinition[]): { messages: ChatMessage[]; tools?: unknown } {
  if (fmt.native) {
    const tools = functions.length ? functions.map((f) => ({ type: 'function', function: f })) : undefined;
    // the template reads arguments as an object, so they are parsed here (outside ChatMessage's type)
    const out = messages.map((m): ChatMessage =>
      m.tool_calls?.length
        ? ({ ...m, content: m.content ?? '', tool_calls: m.tool_calls.map((c) => ({ ...c, function: { name: c.function.name, arguments: parseArgs(c.function.arguments) } })) } as unknown as ChatMessage)
        : m,
    );
    return { messages: out, ...(tools ? { tools } : {}) };
  }
  const out: ChatMessage[] = [];
  for (const m of messages) {
    if (m.role === 'assistant' && m.tool_calls?.length) {
      out.push({ role: 'assistant', content: [m.content ?? '', renderToolCalls(fmt, m.tool_calls)].filter(Boolean).join('\n') });
    } else if (m.role === 'tool') {
      const content = `<tool_response>${m.content}</tool_response>`;
      if (fmt.name === 'gemma3') {
        const prev = out[out.length - 1];
        if (prev?.role === 'user' && prev.content.startsWith('<tool_response>')) prev.content += `\n${content}`;
        else out.push({ role: 'user', content });
      } else out.push({ role: 'tool', content });
    } else out.push({ role: m.role, content: m.content ?? '' });
  }
  if (functions.length) {
    const sys = toolSystemText(fmt, functions);
    if (out[0]?.role === 'system') out[0] = { ...out[0], content: `${out[0].content}\n\n${sys}` };
    else out.unshift({ role: 'system', content: sys });
  }
  return { messages: out };
}

function parseArgs(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}

/** The end of the JSON value starting at `from` (an object or array), or -1 if it does not close. */
function jsonEnd(text: string, from: number): number {
  let depth = 0;
  let inString = false;
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}

/**
 * The calls in a reply the grammar shaped: each is begin(name), a JSON object, end. Returns the
 * text before the first call (trimmed) and the calls, their arguments as the JSON text written.
 */
export function parseToolCalls(fmt: ToolFormat, functions: FunctionDefinition[], text: string): { content: string; calls: { name: string; arguments: string }[] } {
  const calls: { name: string; arguments: string }[] = [];
  let first = -1;
  let at = 0;
  for (;;) {
    let best: { pos: number; name: string; begin: string } | null = null;
    for (const f of functions) {
      const begin = fmt.begin(f.name);
      const pos = text.indexOf(begin, at);
      if (pos >= 0 && (!best || pos < best.pos)) best = { pos, name: f.name, begin };
    }
    if (!best) break;
    const start = best.pos + best.begin.length;
    const end = jsonEnd(text, start);
    if (end < 0 || !text.startsWith(fmt.end, end)) break;
    if (first < 0) first = best.pos;
    calls.push({ name: best.name, arguments: text.slice(start, end) });
    at = end + fmt.end.length;
  }
  return { content: (first < 0 ? text : text.slice(0, first)).trim(), calls };
}
