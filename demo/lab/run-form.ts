import type { MatmulVariant } from '../../src/kernels/matmul.js';
import { FORMATS, MAX_PRESET_HOST_BYTES, PRESETS, SMALL_PRESET, VARIANTS, presetCases } from '../../src/lab/presets.js';
import { LAB_FAMILIES, type LabCase, type LabFamily } from '../../src/lab/types.js';
import type { WeightFormat } from '../../src/quant/formats.js';
import { byId, h } from '../shared/dom.js';
import { FAMILY_NAMES } from './families.js';

export interface RunSelection {
  preset: string;
  budgetMs: number;
  families: LabFamily[];
  formats: WeightFormat[];
  variants: MatmulVariant[];
}

function chip(group: string, value: string, label: string): HTMLElement {
  return h('label', { class: 'chip' }, h('input', { type: 'checkbox', name: group, value, checked: true }), h('span', {}, label));
}

const checked = <T extends string>(form: HTMLFormElement, group: string): T[] =>
  [...form.querySelectorAll<HTMLInputElement>(`input[name="${group}"]:checked`)].map((i) => i.value as T);

/** The preset picker and its filters; says how many kernels a run would be. */
export class RunForm {
  readonly form = byId<HTMLFormElement>('run-form');
  private readonly note = byId('preset-note');
  private readonly count = byId('case-count');
  private readonly preset = byId<HTMLSelectElement>('preset');
  private readonly budget = byId<HTMLSelectElement>('budget');

  constructor() {
    this.preset.append(...PRESETS.map((p) => h('option', { value: p.id }, p.name)));
    this.preset.value = SMALL_PRESET.id;
    byId('families').append(...LAB_FAMILIES.map((f) => chip('family', f, FAMILY_NAMES[f])));
    byId('formats').append(...FORMATS.map((f) => chip('format', f, f)));
    byId('variants').append(...VARIANTS.map((v) => chip('variant', v, v)));
    this.form.addEventListener('change', () => this.refresh());
    this.refresh();
  }

  get selection(): RunSelection {
    return {
      preset: this.preset.value,
      budgetMs: Number(this.budget.value),
      families: checked(this.form, 'family'),
      formats: checked(this.form, 'format'),
      variants: checked(this.form, 'variant'),
    };
  }

  cases(): { cases: LabCase[]; skipped: LabCase[] } {
    const s = this.selection;
    return presetCases(s.preset, s);
  }

  private refresh(): void {
    this.note.textContent = PRESETS.find((p) => p.id === this.preset.value)?.note ?? '';
    const { cases, skipped } = this.cases();
    const n = cases.length;
    this.count.textContent =
      `${n} kernel${n === 1 ? '' : 's'}` + (skipped.length ? ` · ${skipped.length} skipped: weights over ${MAX_PRESET_HOST_BYTES / 1e6} MB are too large to generate in a tab` : '');
  }

  /** Time each kernel for about this long (a CPU driver wants less than a GPU). */
  setBudget(ms: number): void {
    this.budget.value = String(ms);
  }

  /** Lock the filters while a run is on. */
  setBusy(busy: boolean): void {
    for (const el of this.form.querySelectorAll<HTMLInputElement | HTMLSelectElement>('input, select')) el.disabled = busy;
  }
}
