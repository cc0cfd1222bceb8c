/**
 * The user's chat settings (system prompt, sampling) and load options (weight format on the GPU,
 * context length, KV cache format), bound to their form fields and remembered in localStorage.
 */
import type { KvFormat, WeightDtype } from '../../src/index.js';

/** How replies are shaped: free text, any JSON object, or JSON following `jsonSchema`. */
export type ReplyFormat = 'text' | 'json' | 'schema';

export interface ChatSettings {
  systemPrompt: string;
  temperature: number;
  topP: number;
  maxTokens: number;
  replyFormat: ReplyFormat;
  /** A JSON Schema, as typed (checked when a message is sent). */
  jsonSchema: string;
  /** OpenAI function tools as a JSON list, as typed; '' for none. */
  tools: string;
  /** auto: the model may call them or write text; required: it calls one. */
  toolChoice: 'auto' | 'required';
  /** The microphone's Whisper model: a Hub repo id, or '' for the demo's served one, else tiny.en. */
  speechModel: string;
}

export interface LoadOptions {
  /** '' keeps the file's own format. */
  dtype: '' | WeightDtype;
  /** 0: the model's own, up to 4096. */
  contextLength: number;
  /** How the KV cache holds its values: '' is f32; f16 halves its memory, q8 about a quarter. */
  kvCache: '' | Exclude<KvFormat, 'f32'>;
}

const KEY = 'hearth.chat.settings.v1';

/** The speech models Settings offers ('' = automatic). */
const SPEECH_MODELS = ['', 'Systran/faster-whisper-tiny.en', 'Systran/faster-whisper-base.en'];

export const DEFAULTS: ChatSettings & LoadOptions = {
  systemPrompt: '',
  temperature: 0.7,
  topP: 0.9,
  maxTokens: 512,
  replyFormat: 'text',
  jsonSchema: '',
  tools: '',
  toolChoice: 'auto',
  speechModel: '',
  dtype: '',
  contextLength: 0,
  kvCache: '',
};

type All = ChatSettings & LoadOptions;

function load(): All {
  try {
    const saved = JSON.parse(localStorage.getItem(KEY) ?? '{}') as Partial<All>;
    return { ...DEFAULTS, ...saved };
  } catch {
    return { ...DEFAULTS };
  }
}

const clamp = (v: number, lo: number, hi: number, fallback: number) => (Number.isFinite(v) ? Math.min(hi, Math.max(lo, v)) : fallback);

/** Binds the inputs named after the settings (name="temperature", ...) inside `roots`. */
export class Settings {
  private values: All = load();

  constructor(private readonly roots: HTMLElement[]) {
    for (const [name, value] of Object.entries(this.values)) {
      const el = this.field(name);
      if (el) el.value = String(value);
    }
    this.syncOutputs();
    for (const root of roots) {
      root.addEventListener('input', () => this.read());
      root.addEventListener('change', () => this.read());
    }
    this.find<HTMLButtonElement>('[data-action="reset-settings"]')?.addEventListener('click', () => {
      this.values = { ...DEFAULTS };
      for (const [name, value] of Object.entries(this.values)) {
        const el = this.field(name);
        if (el) el.value = String(value);
      }
      this.read();
    });
  }

  get chat(): ChatSettings {
    const v = this.values;
    return { systemPrompt: v.systemPrompt, temperature: v.temperature, topP: v.topP, maxTokens: v.maxTokens, replyFormat: v.replyFormat, jsonSchema: v.jsonSchema, tools: v.tools, toolChoice: v.toolChoice, speechModel: v.speechModel };
  }

  get load(): LoadOptions {
    return { dtype: this.values.dtype, contextLength: this.values.contextLength, kvCache: this.values.kvCache };
  }

  private find<T extends Element>(selector: string): T | null {
    for (const root of this.roots) {
      const el = root.querySelector<T>(selector);
      if (el) return el;
    }
    return null;
  }

  private field(name: string): HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement | null {
    return this.find(`[name="${name}"]`);
  }

  private read(): void {
    const num = (name: string) => Number((this.field(name)?.value ?? '').trim());
    const v = this.values;
    v.systemPrompt = this.field('systemPrompt')?.value ?? '';
    v.temperature = clamp(num('temperature'), 0, 2, DEFAULTS.temperature);
    v.topP = clamp(num('topP'), 0.01, 1, DEFAULTS.topP);
    v.maxTokens = Math.round(clamp(num('maxTokens'), 1, 32768, DEFAULTS.maxTokens));
    const format = this.field('replyFormat')?.value;
    v.replyFormat = format === 'json' || format === 'schema' ? format : 'text';
    v.jsonSchema = this.field('jsonSchema')?.value ?? '';
    v.tools = this.field('tools')?.value ?? '';
    v.toolChoice = this.field('toolChoice')?.value === 'required' ? 'required' : 'auto';
    const speech = this.field('speechModel')?.value ?? '';
    v.speechModel = SPEECH_MODELS.includes(speech) ? speech : '';
    const dtype = this.field('dtype')?.value ?? '';
    v.dtype = dtype === 'q4_0' || dtype === 'q8_0' || dtype === 'f16' ? dtype : '';
    v.contextLength = Math.round(clamp(num('contextLength'), 0, 131072, 0));
    const kv = this.field('kvCache')?.value ?? '';
    v.kvCache = kv === 'f16' || kv === 'q8' ? kv : '';
    this.syncOutputs();
    try {
      localStorage.setItem(KEY, JSON.stringify(v));
    } catch {
      // storage may be off (private windows); settings then last for this visit
    }
  }

  /** Range sliders show their value next to them; the schema field shows in schema mode. */
  private syncOutputs(): void {
    const schemaField = this.find<HTMLElement>('[data-show-for="schema"]');
    if (schemaField) schemaField.hidden = this.values.replyFormat !== 'schema';
    for (const root of this.roots) {
      for (const out of root.querySelectorAll<HTMLOutputElement>('output[data-for]')) {
        const el = this.field(out.dataset.for!);
        if (el) out.value = el.value;
      }
    }
  }
}
