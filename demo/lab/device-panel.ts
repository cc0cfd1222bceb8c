import type { AdapterReport } from '../../src/lab/report.js';
import { h } from '../shared/dom.js';
import { bytes } from './format.js';

/** The optional features Hearth's kernels use, and what each buys. */
const KEY_FEATURES: [name: string, key: keyof AdapterReport['hearthFeatures'], why: string][] = [
  ['shader-f16', 'shaderF16', 'f16 arithmetic in shaders'],
  ['subgroups', 'subgroups', 'subgroup reductions (GEMV, attention)'],
  ['timestamp-query', 'timestampQuery', 'GPU timestamps for timing'],
];

const isByteLimit = (key: string): boolean => /Size$|BindingSize$/.test(key) && !/WorkgroupSize/.test(key);

function feature(name: string, on: boolean, why: string): HTMLElement {
  return h('li', { class: 'feature', title: why }, h('span', { class: on ? 'badge badge-ok' : 'badge' }, on ? 'yes' : 'no'), h('code', {}, name));
}

/** Adapter info, the features that matter to Hearth, and every limit (folded away). */
export function renderDevice(el: HTMLElement, r: AdapterReport, cpu: boolean): void {
  const info: [string, string][] = [
    ['Vendor', r.vendor],
    ['Architecture', r.architecture],
    ['Device', r.device],
    ['Description', r.description],
  ];
  const limits = Object.entries(r.limits).sort(([a], [b]) => a.localeCompare(b));
  const nodes: (HTMLElement | null)[] = [
    h('dl', { class: 'facts' }, ...info.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v || '—')])),
    h('ul', { class: 'features' }, ...KEY_FEATURES.map(([name, key, why]) => feature(name, r.hearthFeatures[key], why))),
    cpu
      ? h(
          'p',
          { class: 'cpu-note' },
          'This adapter is a CPU implementation of WebGPU. The checks are as meaningful as on a GPU; the speeds only compare kernels with each other on this machine.',
        )
      : null,
    h(
      'details',
      // open where the card sits beside the (taller) run form and has room to spare
      { class: 'more', open: matchMedia('(min-width: 861px)').matches },
      h('summary', {}, `Limits (${limits.length})`),
      h(
        'div',
        { class: 'limits-scroll' },
        h('table', { class: 'limits' }, h('tbody', {}, ...limits.map(([k, v]) => h('tr', {}, h('th', { scope: 'row' }, k), h('td', {}, isByteLimit(k) && v >= 1024 ? bytes(v) : v.toLocaleString('en-US')))))),
      ),
    ),
    h('details', { class: 'more' }, h('summary', {}, `All adapter features (${r.features.length})`), h('ul', { class: 'feature-list' }, ...r.features.map((f) => h('li', {}, h('code', {}, f))))),
  ];
  el.replaceChildren(...nodes.filter((n): n is HTMLElement => n !== null));
}
