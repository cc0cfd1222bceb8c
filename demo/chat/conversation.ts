/**
 * The conversation: the message list, the composer, sending with a streamed reply, stopping it.
 * A stopped reply stays in the conversation (and in the history sent next time), marked stopped.
 */
import { isHearthError, type BrowserEngine, type ChatMessage } from '../../src/index.js';
import { h } from './dom.js';
import { fitToContext } from './context.js';
import { problemView, toProblem } from './errors.js';
import { StreamingMarkdown } from './markdown.js';
import { ReplyMeasure, renderStats } from './stats.js';
import type { ChatSettings } from './settings.js';

interface Turn {
  role: 'user' | 'assistant';
  content: string;
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

export class Conversation {
  private turns: Turn[] = [];
  private model: ModelContext | null = null;
  private running: AbortController | null = null;
  private lastUsed = 0;

  constructor(
    private readonly els: ConversationElements,
    private readonly settings: () => ChatSettings,
    /** Errors the conversation cannot show in a reply (the engine died). */
    private readonly onFatal: (e: unknown) => void,
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
    els.stop.addEventListener('click', () => this.stop());
    this.sync();
  }

  get generating(): boolean {
    return this.running !== null;
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

  clear(): void {
    this.stop();
    this.turns = [];
    this.lastUsed = 0;
    for (const el of [...this.els.messages.querySelectorAll('.msg')]) el.remove();
    this.sync();
  }

  focus(): void {
    this.els.input.focus();
  }

  private sync(): void {
    const { input, send, stop, empty, meter } = this.els;
    const ready = this.model !== null;
    input.disabled = !ready;
    input.placeholder = ready ? `Message ${this.model!.title}…` : 'Load a model to start chatting';
    send.disabled = !ready;
    send.hidden = this.generating;
    stop.hidden = !this.generating;
    empty.hidden = this.turns.length > 0;
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

  private addUser(text: string): void {
    this.turns.push({ role: 'user', content: text });
    this.els.messages.append(h('article', { class: 'msg msg-user' }, h('div', { class: 'msg-body' }, text)));
  }

  async send(): Promise<void> {
    const model = this.model;
    const text = this.els.input.value.trim();
    if (!model || this.running || text === '') return;
    this.els.input.value = '';
    this.autosize();
    this.addUser(text);

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
    this.sync();
    const s = this.settings();
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
    try {
      const history: ChatMessage[] = this.turns.filter((t) => t !== turn && !t.failed && t.content !== '').map((t) => ({ role: t.role, content: t.content }));
      if (s.systemPrompt.trim()) history.unshift({ role: 'system', content: s.systemPrompt.trim() });
      const reserve = Math.min(s.maxTokens, Math.floor(model.contextLength / 2));
      const fitted = await fitToContext(model.engine, history, model.contextLength, reserve);
      if (fitted.dropped > 0) {
        note.hidden = false;
        note.textContent = `${fitted.dropped} earlier message${fitted.dropped === 1 ? ' was' : 's were'} left out to fit the ${model.contextLength}-token context.`;
      }
      measure = new ReplyMeasure(fitted.promptTokens, model.contextLength);
      const stream = await model.engine.chat.completions.create(
        { messages: fitted.messages, stream: true, temperature: s.temperature, top_p: s.topP, max_tokens: s.maxTokens },
        { signal: ctrl.signal },
      );
      for await (const chunk of stream) {
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
      if (measure.finishReason === 'length') badges.append(h('span', { class: 'badge', title: 'The reply reached max tokens or the end of the context' }, 'length limit'));
    } catch (e) {
      if (isHearthError(e, 'ABORTED') || ctrl.signal.aborted) {
        status = 'stopped';
        badges.append(h('span', { class: 'badge badge-accent msg-stopped' }, 'Stopped'));
      } else {
        status = 'error';
        turn.failed = true;
        el.append(problemView(toProblem(e)));
        if (isHearthError(e, 'WORKER_CRASHED') || isHearthError(e, 'DEVICE_LOST') || isHearthError(e, 'ENGINE_UNLOADED')) this.onFatal(e);
      }
    } finally {
      if (this.running === ctrl) this.running = null;
      if (statsFrame) cancelAnimationFrame(statsFrame);
      if (turn.content) md.finish(turn.content);
      else if (status !== 'done') body.replaceChildren(h('p', { class: 'muted' }, status === 'stopped' ? 'Stopped before the first token.' : 'No reply.'));
      else body.replaceChildren(h('p', { class: 'muted' }, 'The model ended its reply without any text.'));
      if (measure) {
        renderStats(statsEl, measure);
        if (status !== 'error') this.lastUsed = measure.contextUsed;
      }
      el.dataset.status = status;
      this.sync();
      this.scrollDown();
    }
  }
}
