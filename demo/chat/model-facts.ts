/** What is loaded, for the settings panel: model, context, weights, memory, adapter. */
import { h } from '../shared/dom.js';
import { formatBytes } from './format.js';
import type { Loaded } from './session.js';

export function showModelFacts(dl: HTMLElement, l: Loaded | null): void {
  if (!l) {
    dl.replaceChildren(h('p', { class: 'muted' }, 'No model loaded.'));
    return;
  }
  const i = l.info;
  const c = i.config;
  const formats = Object.entries(i.weightFormats)
    .map(([f, n]) => `${f} × ${n}`)
    .join(', ');
  const adapter = [i.adapter.vendor, i.adapter.architecture, i.adapter.description].filter((s) => s).join(' · ') || 'unknown';
  const features = [i.features.shaderF16 ? 'shader-f16' : null, i.features.subgroups ? 'subgroups' : null, i.features.timestampQuery ? 'timestamps' : null].filter((s) => s).join(', ') || 'none of the optional ones';
  const rows: [string, string][] = [
    ['Model', l.title],
    ['Architecture', `${i.architecture}, ${c.numLayers} layers, ${c.hiddenSize} wide`],
    ['Context', `${i.contextLength} tokens`],
    ['KV cache', `${i.kvCache}, ${formatBytes(i.kvCacheBytes)}`],
    ['Weights', formats || '–'],
    ['GPU memory', formatBytes(i.memoryBytes)],
    ['Adapter', adapter],
    ['Features', features],
  ];
  dl.replaceChildren(...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}
