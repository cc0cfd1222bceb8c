/**
 * The conversation: the message list, the composer, sending with a streamed reply, stopping it.
 *
 * Every conversation is a stored session (engine.sessions): its messages and the KV cache of its
 * tokens stay in this browser, so after a reload it continues without recomputing its history.
 * The session is created with the first message, so opening "New chat" and leaving stores nothing.
 *
 * What is stored always matches what is shown: a stopped reply stays in the conversation (and in
 * the history sent next time), marked stopped, and is written to the session too, since the
 * engine only stores turns that finish. Failed replies are shown but neither sent nor stored.
 */
import { HearthError, isHearthError, type BrowserEngine, type ChatMessage, type RestoreResult, type Session, type SessionChatParams } from '../../src/index.js';
import { h } from '../shared/dom.js';
import { fitToContext } from './context.js';
import { problemView, toProblem } from './errors.js';
import { formatMs } from './format.js';
import { StreamingMarkdown, renderMarkdown } from './markdown.js';
import { ReplyMeasure, renderStats } from './stats.js';
import type { ChatSettings } from './settings.js';

interface Turn {
  role: ChatMessage['role'];
  content: string;
  /** An assistant turn's function calls. */
  tool_calls?: ChatMessage['tool_calls'];
  /** Failed replies are shown but not sent back to the model. */
  failed?: boolean;
}

export interface ConversationElements {
  messages: HTMLElement;
  empty: HTMLElement;
  form: HTMLFormElement;
  input: HTMLTextAreaElement;
  send: HTMLButtonElement;
  stop: HTMLButtonElement;
  meter: HTMLElement;
}

export interface ModelContext {
  engine: BrowserEngine;
  title: string;
  contextLength: number;
}

export interface ConversationHooks {
  /** A first message needs a session to go into; returns its id. */
  create(messages: ChatMessage[]): Promise<string>;
  /** The stored session changed (a turn, or a stopped one written back). */
  saved(id: string): void;
  /** Errors the conversation cannot show in a reply (the engine died). */
  fatal(e: unknown): void;
}

const same = (a: ChatMessage[], b: ChatMessage[]) =>
  a.length === b.length && a.every((m, i) => m.role === b[i]!.role && m.content === b[i]!.content && JSON.stringify(m.tool_calls ?? []) === JSON.stringify(b[i]!.tool_calls ?? []));
/** A message as the page keeps it: role, content and any tool calls. */
const kept = (m: ChatMessage): ChatMessage => ({ role: m.role, content: m.content, ...(m.tool_calls?.length ? { tool_calls: m.tool_calls } : {}) });

export class Conversation {
  private turns: Turn[] = [];
  private model: ModelContext | null = null;
  private running: AbortController | null = null;
  /** Settles when the reply in progress has ended and its session is written. */
  private done: Promise<void> = Promise.resolve();
  private lastUsed = 0;
  private session: string | null = null;
  /** The messages the session holds, as far as this page knows. */
  private stored: ChatMessage[] = [];
  /** Tokens restored when the conversation was opened, shown with its next reply. */
  private restoredOnOpen = 0;
  /** Why the composer is off for this conversation (it belongs to another model). */
  private locked: string | null = null;

  constructor(
    private readonly els: ConversationElements,
    private readonly settings: () => ChatSettings,
    private readonly hooks: ConversationHooks,
  ) {
    els.form.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.send();
    });
    els.input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        void this.send();
      }
    });
    els.input.addEventListener('input', () => this.autosize());
    // a narrower window wraps the text onto more lines (a phone turned, a transcript put in)
    let width = window.innerWidth;
    window.addEventListener('resize', () => {
      if (window.innerWidth !== width && els.input.value) this.autosize();
      width = window.innerWidth;
    });
    els.stop.addEventListener('click', () => this.stop());
    this.sync();
  }

  get generating(): boolean {
    return this.running !== null;
  }

  /** The stored session shown; null for a new chat not yet sent. */
  get sessionId(): string | null {
    return this.session;
  }

  setModel(model: ModelContext | null): void {
    this.stop();
    this.model = model;
    this.lastUsed = 0;
    this.sync();
  }

  stop(): void {
    this.running?.abort();
  }

  /** Stops the reply in progress and waits until it is written, before showing another conversation. */
  async settle(): Promise<void> {
    this.stop();
    await this.done;
  }

  /** An empty new chat. */
  clear(): void {
    this.stop();
    this.turns = [];
    this.lastUsed = 0;
    this.session = null;
    this.stored = [];
    this.restoredOnOpen = 0;
    this.locked = null;
    for (const el of [...this.els.messages.querySelectorAll('.msg, .chat-note')]) el.remove();
    this.sync();
  }

  /**
   * Shows a stored conversation. `locked` (a banner saying why) makes it read-only: its KV cache
   * belongs to another model.
   */
  show(s: Session, locked: { reason: string; banner: HTMLElement } | null = null): void {
    this.clear();
    this.session = s.id;
    this.stored = s.messages.map(kept);
    this.lastUsed = locked ? 0 : s.storedTokens;
    this.locked = locked?.reason ?? null;
    for (const m of this.stored) {
      this.turns.push({ ...m });
      if (m.role === 'user') this.els.messages.append(this.userView(m.content));
      else if (m.role === 'system') this.els.messages.append(this.systemView(m.content));
      else {
        const body = h('div', { class: 'msg-body md' });
        body.innerHTML = renderMarkdown(m.content);
        if (m.tool_calls?.length) body.append(toolCallsView(m.tool_calls));
        this.els.messages.append(h('article', { class: 'msg msg-assistant', 'data-status': 'saved' }, h('div', { class: 'msg-meta' }, h('span', { class: 'msg-who' }, locked || !this.model ? 'Assistant' : this.model.title)), body));
      }
    }
    // last, next to the composer it explains
    if (locked) this.els.messages.append(locked.banner);
    this.sync();
    this.scrollDown(true);
  }

  /** The session's KV is in the engine again: say so, and credit it to the next reply's stats. */
  resumed(r: RestoreResult): void {
    if (r.restoredTokens <= 0) return;
    this.restoredOnOpen = r.restoredTokens;
    const note = h(
      'p',
      { class: 'chat-note', 'data-note': 'resumed' },
      `Resumed: ${r.restoredTokens} tokens of context restored from this device in ${formatMs(r.ms)}. Only your next message needs computing.`,
    );
    this.els.messages.append(note);
    this.scrollDown();
  }

  focus(): void {
    this.els.input.focus();
  }

  private sync(): void {
    const { input, send, stop, empty, meter } = this.els;
    const ready = this.model !== null && this.locked === null;
    input.disabled = !ready;
    input.placeholder = this.locked ?? (this.model ? `Message ${this.model.title}…` : 'Load a model to start chatting');
    send.disabled = !ready;
    send.hidden = this.generating;
    stop.hidden = !this.generating;
    empty.hidden = this.turns.length > 0 || this.locked !== null;
    if (ready && this.model!.contextLength > 0) {
      const { contextLength } = this.model!;
      const pct = Math.min(100, (this.lastUsed / contextLength) * 100);
      meter.hidden = false;
      meter.title = 'Tokens of the context in use after the last reply';
      meter.replaceChildren(h('span', {}, `Context ${this.lastUsed} / ${contextLength}`), h('span', { class: 'meter-bar' }, h('span', { class: 'meter-fill', style: `width:${pct.toFixed(1)}%` })));
    } else meter.hidden = true;
  }

  private autosize(): void {
    const el = this.els.input;
    el.style.height = 'auto';
    el.style.height = `${Math.min(el.scrollHeight + 2, 220)}px`;
  }

  private nearBottom(): boolean {
    const m = this.els.messages;
    return m.scrollHeight - m.scrollTop - m.clientHeight < 120;
  }

  private scrollDown(force = false): void {
    const m = this.els.messages;
    if (force || this.nearBottom()) m.scrollTop = m.scrollHeight;
  }

  private userView(text: string): HTMLElement {
    return h('article', { class: 'msg msg-user' }, h('div', { class: 'msg-body' }, text));
  }

  private systemView(text: string): HTMLElement {
    return h('article', { class: 'msg msg-system' }, h('span', { class: 'msg-system-label' }, 'System prompt'), ' ', h('span', { class: 'msg-system-text' }, text));
  }

  /** What the model is given: every shown message but failed or empty replies. */
  private history(except?: Turn): ChatMessage[] {
    return this.turns.filter((t) => t !== except && !t.failed && (t.content !== '' || t.tool_calls?.length)).map(kept);
  }

  async send(): Promise<void> {
    const model = this.model;
    const text = this.els.input.value.trim();
    if (!model || this.running || this.locked || text === '') return;
    this.els.input.value = '';
    this.autosize();
    const s = this.settings();
    // a conversation keeps the system prompt it started with, so reopening it changes nothing
    if (this.turns.length === 0 && s.systemPrompt.trim()) {
      this.turns.push({ role: 'system', content: s.systemPrompt.trim() });
      this.els.messages.append(this.systemView(s.systemPrompt.trim()));
    }
    this.turns.push({ role: 'user', content: text });
    this.els.messages.append(this.userView(text));

    const turn: Turn = { role: 'assistant', content: '' };
    this.turns.push(turn);
    const body = h('div', { class: 'msg-body md' }, h('span', { class: 'typing', 'aria-label': 'Working' }, h('i'), h('i'), h('i')));
    const badges = h('span', { class: 'msg-badges' });
    const statsEl = h('div', { class: 'msg-stats' });
    const note = h('div', { class: 'msg-note' });
    note.hidden = true;
    const el = h('article', { class: 'msg msg-assistant', 'data-status': 'streaming' }, h('div', { class: 'msg-meta' }, h('span', { class: 'msg-who' }, model.title), badges), note, body, statsEl);
    this.els.messages.append(el);
    this.scrollDown(true);

    const ctrl = new AbortController();
    this.running = ctrl;
    let settled!: () => void;
    this.done = new Promise((r) => (settled = r));
    this.sync();
    const md = new StreamingMarkdown(body);
    let measure: ReplyMeasure | null = null;
    let statsFrame = 0;
    const drawStats = () => {
      statsFrame ||= requestAnimationFrame(() => {
        statsFrame = 0;
        if (!measure) return;
        renderStats(statsEl, measure);
        this.lastUsed = measure.contextUsed;
        this.sync();
      });
    };

    let status: 'done' | 'stopped' | 'error' = 'done';
    let jsonShown = false;
    let id = this.session;
    let sent: ChatMessage[] | null = null;
    try {
      const history = this.history(turn);
      const reserve = Math.min(s.maxTokens, Math.floor(model.contextLength / 2));
      const fitted = await fitToContext(model.engine, history, model.contextLength, reserve);
      if (fitted.dropped > 0) {
        note.hidden = false;
        note.textContent = `${fitted.dropped} earlier message${fitted.dropped === 1 ? ' was' : 's were'} left out to fit the ${model.contextLength}-token context.`;
      }
      if (!id) {
        const first = history.filter((m) => m.role === 'system');
        id = this.session = await this.hooks.create(first);
        this.stored = first;
      }
      // one new message when the session holds the rest; the whole conversation when it differs
      // (trimmed to fit, or a stop that was not written): the session keeps the KV up to where
      // they part, so either way only what changed is computed
      sent = fitted.dropped === 0 ? history : fitted.messages;
      const params: SessionChatParams = same(sent, [...this.stored, { role: 'user', content: text }]) ? { message: text } : { messages: sent };
      measure = new ReplyMeasure(fitted.promptTokens, model.contextLength, this.restoredOnOpen);
      const response_format = responseFormatOf(s);
      const tools = toolsOf(s);
      const stream = await model.engine.sessions.chat(id, { ...params, stream: true, temperature: s.temperature, top_p: s.topP, max_tokens: s.maxTokens, ...(response_format ? { response_format } : {}), ...(tools ? { tools, tool_choice: s.toolChoice, parallel_tool_calls: false } : {}) }, { signal: ctrl.signal });
      const calls: NonNullable<ChatMessage['tool_calls']> = [];
      for await (const chunk of stream) {
        // tool calls arrive as OpenAI streams them: id and name first, then the arguments
        for (const d of chunk.choices[0]?.delta.tool_calls ?? []) {
          calls[d.index] ??= { id: d.id ?? '', type: 'function', function: { name: d.function.name ?? '', arguments: '' } };
          calls[d.index]!.function.arguments += d.function.arguments;
        }
        const delta = chunk.choices[0]?.delta.content ?? '';
        if (delta) {
          measure.token();
          turn.content += delta;
          md.update(turn.content);
          drawStats();
          this.scrollDown();
        }
        if (chunk.usage) measure.end(chunk);
      }
      if (calls.length) {
        turn.tool_calls = calls;
        badges.append(h('span', { class: 'badge badge-accent', title: 'The model called functions from the Tools setting' }, calls.length === 1 ? 'tool call' : `${calls.length} tool calls`));
      }
      this.stored = [...sent, kept({ role: 'assistant', content: turn.content, tool_calls: turn.tool_calls })];
      this.restoredOnOpen = 0;
      this.hooks.saved(id);
      if (measure.finishReason === 'length') badges.append(h('span', { class: 'badge', title: 'The reply reached max tokens or the end of the context' }, 'length limit'));
      if (response_format && measure.finishReason === 'stop') {
        // the grammar made it JSON: show it indented, as code
        badges.append(h('span', { class: 'badge badge-accent', title: 'The reply was constrained to JSON' }, response_format.type === 'json_schema' ? 'JSON · schema' : 'JSON'));
        md.finish(jsonBlock(turn.content));
        jsonShown = true;
      }
    } catch (e) {
      if (isHearthError(e, 'ABORTED') || ctrl.signal.aborted) {
        status = 'stopped';
        // the library kept the reply so far (and its KV) when one had begun
        const kept = isHearthError(e, 'ABORTED') && (e.details as { session?: unknown } | undefined)?.session;
        if (kept && sent) {
          this.stored = [...sent, { role: 'assistant', content: turn.content }];
          this.hooks.saved(id!);
        }
        badges.append(h('span', { class: 'badge badge-accent msg-stopped' }, 'Stopped'));
      } else {
        status = 'error';
        turn.failed = true;
        el.append(problemView(toProblem(e)));
        if (isHearthError(e, 'WORKER_CRASHED') || isHearthError(e, 'DEVICE_LOST') || isHearthError(e, 'ENGINE_UNLOADED')) this.hooks.fatal(e);
      }
    } finally {
      if (statsFrame) cancelAnimationFrame(statsFrame);
      if (turn.content || turn.tool_calls) {
        if (!jsonShown) md.finish(turn.content);
        if (turn.tool_calls) body.append(toolCallsView(turn.tool_calls));
      } else if (status !== 'done') body.replaceChildren(h('p', { class: 'muted' }, status === 'stopped' ? 'Stopped before the first token.' : 'No reply.'));
      else body.replaceChildren(h('p', { class: 'muted' }, 'The model ended its reply without any text.'));
      if (measure) {
        renderStats(statsEl, measure);
        if (status !== 'error') this.lastUsed = measure.contextUsed;
      }
      el.dataset.status = status;
      if (status !== 'done' && id) await this.writeBack(model.engine, id);
      if (this.running === ctrl) this.running = null;
      this.sync();
      this.scrollDown();
      settled();
    }
  }

  /**
   * A turn that did not finish left the session as it was: store what the page shows (the user's
   * message, the stopped reply) so that a reload finds the same conversation.
   */
  private async writeBack(engine: BrowserEngine, id: string): Promise<void> {
    const now = this.history();
    if (this.session !== id || same(now, this.stored)) return;
    try {
      await engine.sessions.update(id, { messages: now });
      this.stored = now;
      this.hooks.saved(id);
    } catch {
      // the turn's own error is already shown; the next turn sends the whole conversation anyway
    }
  }
}

/** The request's response_format for the JSON mode setting; a schema that is not JSON is refused here. */
function responseFormatOf(s: ChatSettings): SessionChatParams['response_format'] {
  if (s.replyFormat === 'json') return { type: 'json_object' };
  if (s.replyFormat !== 'schema') return undefined;
  let schema: unknown;
  try {
    schema = JSON.parse(s.jsonSchema);
  } catch (e) {
    throw new HearthError('INVALID_ARGUMENT', `The JSON Schema in Settings is not JSON: ${(e as Error).message}.`, { hint: 'Fix it in Settings, or switch the reply format to Text.' });
  }
  return { type: 'json_schema', json_schema: { name: 'demo', schema: schema as Record<string, unknown>, strict: true } };
}

/** A JSON reply as an indented markdown code block. */
export function jsonBlock(text: string): string {
  try {
    return `\`\`\`json\n${JSON.stringify(JSON.parse(text), null, 2)}\n\`\`\``;
  } catch {
    return text;
  }
}

/** The Tools setting as request tools; a list that is not JSON is refused here. */
function toolsOf(s: ChatSettings): SessionChatParams['tools'] {
  if (!s.tools.trim()) return undefined;
  try {
    return JSON.parse(s.tools) as SessionChatParams['tools'];
  } catch (e) {
    throw new HearthError('INVALID_ARGUMENT', `The Tools in Settings are not JSON: ${(e as Error).message}.`, { hint: 'Fix them in Settings, or clear the field.' });
  }
}

/** Function calls, readably: the function's name and its arguments, indented. */
function toolCallsView(calls: NonNullable<ChatMessage['tool_calls']>): HTMLElement {
  return h(
    'div',
    { class: 'tool-calls' },
    ...calls.map((c) => {
      const args = h('div', { class: 'md' });
      args.innerHTML = renderMarkdown(jsonBlock(c.function.arguments));
      return h('div', { class: 'tool-call', 'data-name': c.function.name }, h('div', { class: 'tool-call-name' }, 'Calls ', h('code', {}, `${c.function.name}()`)), args);
    }),
  );
}
