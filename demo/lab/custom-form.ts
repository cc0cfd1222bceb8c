import { caseHostBytes, validateCase } from '../../src/lab/cases.js';
import { FORMATS, VARIANTS } from '../../src/lab/presets.js';
import { LAB_FAMILIES, type LabCase, type LabFamily } from '../../src/lab/types.js';
import { byId, h } from '../shared/dom.js';
import { FAMILY_NAMES } from './families.js';

type Field =
  | { key: string; label: string; kind: 'int'; value: number; min?: number }
  | { key: string; label: string; kind: 'number'; value: number }
  | { key: string; label: string; kind: 'select'; options: [value: string, label: string][] }
  | { key: string; label: string; kind: 'checkbox' };

const formatField: Field = { key: 'format', label: 'Format', kind: 'select', options: [['all', 'all four'], ...FORMATS.map((f): [string, string] => [f, f])] };
const variantField: Field = { key: 'variant', label: 'Variant', kind: 'select', options: [['all', 'both'], ...VARIANTS.map((v): [string, string] => [v, v])] };
const int = (key: string, label: string, value: number, min = 1): Field => ({ key, label, kind: 'int', value, min });
const heads = [int('nHeads', 'Heads', 9), int('nKvHeads', 'KV heads', 3), int('headDim', 'Head size', 64)];

/** The inputs per family, prefilled with SmolLM2-135M's shapes. */
const FIELDS: Record<LabFamily, Field[]> = {
  gemv: [int('n', 'N (rows, out)', 1536), int('k', 'K (in)', 576), formatField, variantField],
  gemm: [int('m', 'M (tokens)', 128, 2), int('n', 'N (out)', 1536), int('k', 'K (in)', 576), formatField, variantField],
  'attention-prefill': [...heads, int('tokens', 'Tokens', 256, 2), int('pos', 'Start position', 0, 0)],
  'attention-decode': [...heads, int('kvLen', 'KV length', 1024)],
  rmsnorm: [int('rows', 'Rows (tokens)', 128), int('cols', 'Hidden size', 576), { key: 'residual', label: 'Fused residual add', kind: 'checkbox' }],
  rope: [
    int('tokens', 'Tokens', 128),
    int('nHeads', 'Heads', 9),
    int('headDim', 'Head size', 64),
    int('pos', 'Start position', 0, 0),
    { key: 'theta', label: 'Theta', kind: 'number', value: 100000 },
    { key: 'style', label: 'Pairs', kind: 'select', options: [['half', 'rotate-half (HF)'], ['interleaved', 'interleaved (GGUF)']] },
  ],
  silu_mul: [int('tokens', 'Tokens', 128), int('n', 'MLP size', 1536)],
  softmax: [int('rows', 'Rows', 1), int('cols', 'Columns', 49152)],
  embed: [int('vocab', 'Vocabulary', 49152), int('cols', 'Hidden size', 576), int('tokens', 'Tokens', 128), formatField],
  // Whisper's, prefilled with tiny's shapes
  layernorm: [int('rows', 'Rows (positions)', 1500), int('cols', 'Width', 384)],
  gelu: [int('tokens', 'Rows (positions)', 1500), int('n', 'MLP size', 1536)],
  conv1d: [
    int('tIn', 'Input steps', 3000),
    int('cIn', 'Input channels', 80),
    int('cOut', 'Output channels', 384),
    { key: 'stride', label: 'Stride', kind: 'select', options: [['1', '1 (conv1)'], ['2', '2 (conv2)']] },
    variantField,
  ],
  add_rows: [int('tokens', 'Rows', 1500), int('n', 'Width', 384), int('rows', 'Table rows', 1500), int('pos', 'Start position', 0, 0)],
  attention_full: [
    int('heads', 'Heads', 6),
    int('headDim', 'Head size', 64),
    int('tokens', 'Queries', 1500),
    int('kvLen', 'Keys', 1500),
    { key: 'method', label: 'Method', kind: 'select', options: [['direct', 'direct (a thread per query)'], ['matmul', 'per-head matmuls']] },
  ],
};

/** A host array above this would likely take the tab down. */
const MAX_HOST_BYTES = 1 << 30;

function input(f: Field): HTMLElement {
  const name = `custom-${f.key}`;
  if (f.kind === 'checkbox') return h('label', { class: 'field field-check' }, h('input', { type: 'checkbox', name: f.key, id: name }), h('span', {}, f.label));
  const control =
    f.kind === 'select'
      ? h('select', { name: f.key, id: name }, ...f.options.map(([v, l]) => h('option', { value: v }, l)))
      : h('input', { type: 'number', name: f.key, id: name, value: f.value, min: f.kind === 'int' ? (f.min ?? 1) : null, step: f.kind === 'int' ? 1 : 'any', inputmode: 'numeric', required: true });
  return h('label', { class: 'field' }, h('span', { class: 'field-label' }, f.label), control);
}

/** A form for one kernel at any shape: builds the cases (every format/variant asked for) or says what is wrong. */
export class CustomForm {
  readonly form = byId<HTMLFormElement>('custom-form');
  private readonly family = byId<HTMLSelectElement>('custom-family');
  private readonly fields = byId('custom-fields');
  private readonly error = byId('custom-error');

  constructor() {
    this.family.append(...LAB_FAMILIES.map((f) => h('option', { value: f }, FAMILY_NAMES[f])));
    this.family.addEventListener('change', () => this.render());
    this.render();
  }

  private render(): void {
    this.fields.replaceChildren(...FIELDS[this.family.value as LabFamily].map(input));
    this.showError(null);
  }

  showError(message: string | null): void {
    this.error.hidden = !message;
    this.error.textContent = message ?? '';
  }

  /** The cases the form describes, or null (with the reason shown) when they cannot run. */
  cases(): LabCase[] | null {
    const family = this.family.value as LabFamily;
    const data = new FormData(this.form);
    const base: Record<string, unknown> = { family, label: 'custom' };
    for (const f of FIELDS[family]) {
      if (f.kind === 'checkbox') base[f.key] = data.get(f.key) === 'on';
      else if (f.kind === 'select') base[f.key] = f.key === 'stride' ? Number(data.get(f.key)) : data.get(f.key);
      else base[f.key] = Number(data.get(f.key));
    }
    const formats = base.format === 'all' ? FORMATS : [base.format];
    const variants = base.variant === 'all' ? VARIANTS : [base.variant];
    const cases = formats.flatMap((format) => variants.map((variant) => ({ ...base, ...(format ? { format } : {}), ...(variant ? { variant } : {}) }) as LabCase));
    try {
      for (const c of cases) {
        validateCase(c);
        if (caseHostBytes(c) > MAX_HOST_BYTES) throw new Error('This shape needs over 1 GiB of test data in the tab; choose a smaller one or a more compact format.');
      }
    } catch (e) {
      this.showError(e instanceof Error ? e.message : String(e));
      return null;
    }
    this.showError(null);
    return cases;
  }

  setBusy(busy: boolean): void {
    for (const el of this.form.querySelectorAll<HTMLInputElement | HTMLSelectElement | HTMLButtonElement>('input, select, button')) el.disabled = busy;
  }
}
