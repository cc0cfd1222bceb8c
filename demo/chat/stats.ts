/**
 * The numbers under each reply. While it streams they are measured here (time to the first
 * token, tokens per second from the chunks); when it ends the engine's own timings replace them.
 * A stopped reply keeps the measured ones.
 */
import type { ChatCompletionChunk } from '../../src/index.js';
import { h } from './dom.js';
import { formatMs, formatRate } from './format.js';

export class ReplyMeasure {
  readonly sentAt = performance.now();
  firstAt = 0;
  lastAt = 0;
  tokens = 0;
  final: Required<Pick<ChatCompletionChunk, 'usage' | 'hearth'>> | null = null;
  finishReason: string | null = null;

  constructor(
    readonly promptTokens: number,
    readonly contextLength: number,
  ) {}

  token(): void {
    const now = performance.now();
    this.firstAt ||= now;
    this.lastAt = now;
    this.tokens++;
  }

  end(chunk: ChatCompletionChunk): void {
    this.finishReason = chunk.choices[0]?.finish_reason ?? null;
    if (chunk.usage && chunk.hearth) this.final = { usage: chunk.usage, hearth: chunk.hearth };
  }

  get contextUsed(): number {
    return this.final ? this.final.usage.total_tokens : this.promptTokens + this.tokens;
  }
}

interface Item {
  key: string;
  label: string;
  value: string;
  title: string;
}

function items(m: ReplyMeasure): Item[] {
  const out: Item[] = [];
  const f = m.final;
  if (f) {
    const t = f.hearth.timings;
    const reused = f.hearth.reused_tokens;
    out.push({ key: 'ttft', label: 'first token', value: formatMs(t.ttft_ms), title: 'Time to first token, measured in the engine' });
    out.push({
      key: 'prefill',
      label: 'prefill',
      value: `${formatRate(t.prefill_tokens_per_second)} tok/s`,
      title: `${f.hearth.prefilled_tokens} prompt tokens computed${reused ? `, ${reused} reused from the previous turn` : ''}`,
    });
    out.push({ key: 'decode', label: 'decode', value: `${formatRate(t.decode_tokens_per_second)} tok/s`, title: `${f.usage.completion_tokens} tokens generated` });
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
}
