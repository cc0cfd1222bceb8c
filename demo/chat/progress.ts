/**
 * The load progress card: one bar per phase (download, cache read, GPU upload, shader compile).
 * Download and cache events count bytes per file, so files are summed; the bars redraw at most
 * once per frame however fast events arrive.
 */
import type { LoadProgress } from '../../src/index.js';
import { h } from '../shared/dom.js';
import { formatBytes, formatMs, percent } from './format.js';

type Phase = LoadProgress['phase'];
const PHASES: Phase[] = ['download', 'cache', 'upload', 'compile'];

interface Row {
  el: HTMLElement;
  fill: HTMLElement;
  detail: HTMLElement;
  files: Map<string, { loaded: number; total: number }>;
  file: string;
  started: number;
  ended: number;
}

export class LoadProgressView {
  readonly el: HTMLElement;
  private readonly rows = new Map<Phase, Row>();
  private frame = 0;
  private readonly t0 = performance.now();
  private readonly status: HTMLElement;
  private readonly heading: HTMLElement;
  private readonly cancel: HTMLElement;

  /**
   * @param title what is loading
   * @param expectedBytes the download size when known beforehand (the bar's scale until every file has reported its size)
   * @param local files come from the user's disk, so "download" is a read
   */
  constructor(title: string, onCancel: () => void, private readonly expectedBytes = 0, local = false) {
    const labels: Record<Phase, string> = {
      download: local ? 'Read files' : 'Download',
      cache: 'Read from cache',
      upload: 'Upload to GPU',
      compile: 'Compile shaders',
    };
    this.status = h('p', { class: 'progress-status', 'aria-live': 'polite' }, 'Starting…');
    const list = h('div', { class: 'progress-rows' });
    for (const phase of PHASES) {
      const fill = h('div', { class: 'bar-fill' });
      const detail = h('span', { class: 'progress-detail' }, 'waiting');
      const el = h(
        'div',
        { class: 'progress-row', 'data-phase': phase, 'data-state': 'waiting' },
        h('span', { class: 'progress-label' }, labels[phase]),
        h('div', { class: 'bar', role: 'progressbar', 'aria-label': labels[phase], 'aria-valuemin': 0, 'aria-valuemax': 100 }, fill),
        detail,
      );
      list.append(el);
      this.rows.set(phase, { el, fill, detail, files: new Map(), file: '', started: 0, ended: 0 });
    }
    this.heading = h('h2', {}, 'Loading ', h('span', { class: 'load-name' }, title));
    this.cancel = h('button', { class: 'btn btn-small', type: 'button', onclick: onCancel }, 'Cancel');
    this.el = h('section', { class: 'card load-card', 'aria-label': 'Loading the model' }, h('div', { class: 'load-card-head' }, this.heading, this.cancel), list, this.status);
  }

  update(p: LoadProgress): void {
    const row = this.rows.get(p.phase);
    if (!row) return;
    const now = performance.now();
    row.started ||= now;
    // a later phase starting means the earlier ones are over, except that tensors are read from
    // the cache while they are uploaded
    for (const earlier of PHASES.slice(0, PHASES.indexOf(p.phase))) {
      const r = this.rows.get(earlier)!;
      if (r.started && !r.ended && !(earlier === 'cache' && p.phase === 'upload')) r.ended = now;
    }
    const key = p.file ?? '';
    row.file = key || row.file;
    row.files.set(key, { loaded: p.loaded, total: p.total });
    if (p.phase === 'compile' && p.loaded >= p.total) row.ended = now;
    this.frame ||= requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  /** The load finished: close every phase that ran, mark the others as not needed. */
  finish(ok: boolean): void {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
    const now = performance.now();
    for (const r of this.rows.values()) if (r.started && !r.ended && ok) r.ended = now;
    this.cancel.remove();
    if (!ok) this.heading.firstChild!.textContent = 'Could not load ';
    this.draw(ok ? 'done' : 'failed');
  }

  private draw(final?: 'done' | 'failed'): void {
    let active = '';
    for (const [phase, r] of this.rows) {
      let loaded = 0;
      let total = 0;
      for (const f of r.files.values()) {
        loaded += f.loaded;
        total += f.total;
      }
      if (phase === 'download') total = Math.max(total, this.expectedBytes);
      const pct = r.ended ? 100 : phase === 'compile' ? (r.started ? 50 : 0) : percent(loaded, total);
      r.fill.style.width = `${pct}%`;
      r.el.querySelector('.bar')!.setAttribute('aria-valuenow', pct.toFixed(0));
      let state: string;
      if (!r.started) state = final ? 'skipped' : 'waiting';
      else if (r.ended) state = 'done';
      else state = final === 'failed' ? 'failed' : 'active';
      r.el.dataset.state = state;
      if (state === 'skipped') r.detail.textContent = final === 'done' ? 'not needed' : 'not reached';
      else if (state === 'waiting') r.detail.textContent = 'waiting';
      else if (phase === 'compile') r.detail.textContent = state === 'done' ? `done in ${formatMs(r.ended - r.started)}` : 'compiling…';
      else {
        const bytes = total > 0 ? `${formatBytes(loaded)} of ${formatBytes(total)}` : formatBytes(loaded);
        r.detail.textContent = state === 'done' ? `${formatBytes(loaded)} · ${formatMs(r.ended - r.started)}` : `${bytes}${r.file ? ` · ${r.file}` : ''}`;
      }
      if (state === 'active') active = r.el.querySelector('.progress-label')!.textContent ?? '';
    }
    const elapsed = formatMs(performance.now() - this.t0);
    this.status.textContent = final === 'done' ? `Ready in ${elapsed}.` : final === 'failed' ? 'Loading stopped.' : active ? `${active}… (${elapsed})` : `Starting… (${elapsed})`;
  }
}
