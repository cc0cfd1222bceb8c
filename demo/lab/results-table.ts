import type { Roofline } from '../../src/kernels/roofline.js';
import { rooflineFraction } from '../../src/lab/roofline.js';
import type { LabRow } from '../../src/lab/types.js';
import { byId, h } from '../shared/dom.js';
import { FAMILY_COLORS, FAMILY_NAMES } from './families.js';
import { err, pct, sig3 } from './format.js';

function checkCell(r: LabRow): HTMLElement {
  if (r.error) return h('td', { class: 'check' }, h('span', { class: 'badge badge-fail' }, 'error'));
  const sampled = r.checked < r.total ? ` (${r.checked.toLocaleString('en-US')} of ${r.total.toLocaleString('en-US')} sampled)` : ` (all ${r.total.toLocaleString('en-US')})`;
  return h(
    'td',
    { class: 'check', title: `relative error ${err(r.maxRelErr)}, tolerance ${err(r.tolerance)}${sampled}` },
    h('span', { class: r.pass ? 'badge badge-ok' : 'badge badge-fail' }, r.pass ? 'pass' : 'fail'),
  );
}

/** The results table: one line per kernel run, and a line under a failed one saying why. */
export class ResultsTable {
  private readonly body = byId<HTMLTableSectionElement>('results-body');
  private readonly empty = byId('results-empty');
  private readonly summary = byId('summary');
  private rows: LabRow[] = [];

  clear(): void {
    this.rows = [];
    this.body.replaceChildren();
    this.update();
  }

  add(row: LabRow, index: number, roofline: Roofline | null): void {
    this.rows.push(row);
    const r = row;
    const tr = h(
      'tr',
      { class: r.pass ? '' : 'row-fail', 'data-family': r.family },
      h('td', { class: 'num muted' }, String(index + 1)),
      h('td', { class: 'kernel' }, h('span', { class: 'dot', style: `background:${FAMILY_COLORS[r.family]}` }), h('span', {}, FAMILY_NAMES[r.family]), h('small', {}, r.label)),
      h('td', {}, r.variant),
      h('td', {}, h('code', {}, r.format)),
      h('td', { class: 'shape' }, h('code', {}, r.shape)),
      checkCell(r),
      h('td', { class: 'num' }, r.error ? '—' : err(r.maxAbsErr)),
      h('td', { class: 'num', title: r.error ? '' : `${r.iterations} runs, ${r.timing === 'timestamp' ? 'GPU timestamps' : 'wall clock'}` }, r.error ? '—' : sig3(r.ms)),
      h('td', { class: 'num' }, r.error ? '—' : sig3(r.gbps)),
      h('td', { class: 'num' }, r.error ? '—' : sig3(r.gflops)),
      h('td', { class: 'num' }, roofline && !r.error ? pct(rooflineFraction(roofline, r)) : '—'),
    );
    this.body.append(tr);
    if (r.error) this.body.append(h('tr', { class: 'row-error' }, h('td', {}), h('td', { colspan: 10 }, r.error)));
    this.update();
  }

  private update(): void {
    const n = this.rows.length;
    const passed = this.rows.filter((r) => r.pass).length;
    this.empty.hidden = n > 0;
    this.summary.hidden = n === 0;
    this.summary.textContent = n === passed ? `${n} passed` : `${passed} of ${n} passed`;
    this.summary.className = n === passed ? 'badge badge-ok' : 'badge badge-fail';
  }
}
