/**
 * The numbers under each reply. While it streams they are measured here (time to the first
 * token, tokens per second from the chunks); when it ends the engine's own timings replace them.
 * A stopped reply keeps the measured ones.
 *
 * A finished reply also says how much of its prompt was computed for it (prefilled) and how much
 * was already there (reused: earlier turns, kept by the engine or restored from storage), which is
 * what saved conversations are for.
 */
import type { ChatCompletionChunk, SessionChatChunk, SessionTurnInfo } from '../../src/index.js';
import { h } from '../shared/dom.js';
import { formatMs, formatRate } from './format.js';

export class ReplyMeasure {
  readonly sentAt = performance.now();
  firstAt = 0;
  lastAt = 0;
  tokens = 0;
  final: Required<Pick<ChatCompletionChunk, 'usage' | 'hearth'>> | null = null;
  session: SessionTurnInfo | null = null;
  finishReason: string | null = null;

  constructor(
    readonly promptTokens: number,
    readonly contextLength: number,
    /** Tokens restored from storage when the conversation was opened, before this turn. */
    readonly restoredOnOpen = 0,
  ) {}

  token(): void {
    const now = performance.now();
    this.firstAt ||= now;
    this.lastAt = now;
    this.tokens++;
  }

  end(chunk: SessionChatChunk): void {
    this.finishReason = chunk.choices[0]?.finish_reason ?? null;
    if (chunk.usage && chunk.hearth) this.final = { usage: chunk.usage, hearth: chunk.hearth };
    if (chunk.session) this.session = chunk.session;
  }

  get contextUsed(): number {
    return this.final ? this.final.usage.total_tokens : this.promptTokens + this.tokens;
  }

  /** Tokens of this prompt read back from storage, on opening the conversation or in the turn itself. */
  get restored(): number {
    return this.restoredOnOpen + (this.session?.restoredTokens ?? 0);
  }
}

interface Item {
  key: string;
  label: string;
  value: string;
  title: string;
}

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;

function items(m: ReplyMeasure): Item[] {
  const out: Item[] = [];
  const f = m.final;
  if (f) {
    const t = f.hearth.timings;
    const { reused_tokens: reused, prefilled_tokens: prefilled } = f.hearth;
    out.push({ key: 'ttft', label: 'first token', value: formatMs(t.ttft_ms), title: 'Time to first token, measured in the engine' });
    out.push({ key: 'prefilled', label: 'prefilled', value: String(prefilled), title: `${plural(prefilled, 'prompt token')} computed for this reply` });
    out.push({
      key: 'reused',
      label: 'reused',
      value: String(reused),
      title: `${plural(reused, 'prompt token')} of earlier turns whose keys and values were already computed, so they were not prefilled again`,
    });
    if (m.restored > 0) {
      out.push({ key: 'restored', label: 'restored from storage:', value: plural(m.restored, 'token'), title: 'Keys and values of earlier turns read back from this browser’s storage instead of being computed again' });
    }
    out.push({ key: 'prefill', label: 'prefill', value: `${formatRate(t.prefill_tokens_per_second)} tok/s`, title: `Prefill speed over the ${plural(prefilled, 'token')} computed` });
    out.push({ key: 'decode', label: 'decode', value: `${formatRate(t.decode_tokens_per_second)} tok/s`, title: `${plural(f.usage.completion_tokens, 'token')} generated` });
  } else if (m.firstAt) {
    out.push({ key: 'ttft', label: 'first token', value: formatMs(m.firstAt - m.sentAt), title: 'Time to first token, measured on this page' });
    const span = (m.lastAt - m.firstAt) / 1000;
    if (m.tokens > 1 && span > 0) out.push({ key: 'decode', label: 'decode', value: `${formatRate((m.tokens - 1) / span)} tok/s`, title: `${m.tokens} tokens so far, measured on this page` });
  }
  if (m.contextLength > 0) {
    out.push({ key: 'context', label: 'context', value: `${m.contextUsed} / ${m.contextLength}`, title: 'Tokens of the context in use (prompt and reply) out of the context length' });
  }
  return out;
}

export function renderStats(el: HTMLElement, m: ReplyMeasure): void {
  el.replaceChildren(...items(m).map((i) => h('span', { class: 'stat', 'data-stat': i.key, title: i.title }, h('span', { class: 'stat-label' }, i.label), ' ', h('span', { class: 'stat-value' }, i.value))));
  // the raw numbers, for anyone (or any test) reading the page rather than the words
  const f = m.final;
  if (f) {
    el.dataset.promptTokens = String(f.usage.prompt_tokens);
    el.dataset.prefilled = String(f.hearth.prefilled_tokens);
    el.dataset.reused = String(f.hearth.reused_tokens);
    el.dataset.restored = String(m.restored);
  }
  if (m.session) el.dataset.storedTokens = String(m.session.storedTokens);
}
