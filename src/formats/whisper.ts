import { HearthError } from '../errors.js';
import { throwIfAborted, type ByteSource, type ModelSource } from '../hub/byte-source.js';
import { bf16BitsToF32, f16BitsToF32 } from '../util/f16.js';
import { readCt2Header, readCt2Scalar, type Ct2Variable } from './ctranslate2.js';
import { readSafetensorsHeader, type SafetensorsEntry } from './safetensors.js';

/**
 * Whisper's shape, from either file layout: Hugging Face `WhisperForConditionalGeneration`
 * (config.json + model.safetensors) or faster-whisper's CTranslate2 `model.bin` (its shape is in
 * the tensors; config.json there holds the decoding lists).
 */
export interface WhisperConfig {
  nMels: number;
  dModel: number;
  ffnDim: number;
  encoderLayers: number;
  decoderLayers: number;
  encoderHeads: number;
  decoderHeads: number;
  /** Encoder positions (1500: 30 s of audio at 2 mel frames per position). */
  nAudioCtx: number;
  /** Decoder positions (448). */
  nTextCtx: number;
  vocabSize: number;
}

/** LayerNorm epsilon of every Whisper checkpoint (PyTorch's default). */
export const WHISPER_EPS = 1e-5;

/** A tensor as the Whisper loader and the reference take it: F32 or F16 bytes, row-major. */
export interface WhisperTensor {
  dtype: 'F32' | 'F16';
  shape: number[];
  data: Uint8Array;
}

/**
 * Canonical tensor names and shapes (one table for both layouts, the loader, the reference and the
 * fixtures). Self-attention Q|K|V and cross-attention K|V are fused by rows, as CTranslate2 stores
 * them; K's bias (which Whisper does not have) is zeros.
 */
export function whisperSchema(c: WhisperConfig): { name: string; shape: number[] }[] {
  const D = c.dModel;
  const out: { name: string; shape: number[] }[] = [];
  const ln = (p: string) => out.push({ name: `${p}.w`, shape: [D] }, { name: `${p}.b`, shape: [D] });
  const lin = (p: string, rows: number, cols: number) => out.push({ name: `${p}.w`, shape: [rows, cols] }, { name: `${p}.b`, shape: [rows] });
  out.push({ name: 'enc.conv1.w', shape: [D, c.nMels, 3] }, { name: 'enc.conv1.b', shape: [D] });
  out.push({ name: 'enc.conv2.w', shape: [D, D, 3] }, { name: 'enc.conv2.b', shape: [D] });
  out.push({ name: 'enc.pos', shape: [c.nAudioCtx, D] });
  for (let l = 0; l < c.encoderLayers; l++) {
    ln(`enc.${l}.attn_ln`);
    lin(`enc.${l}.qkv`, 3 * D, D);
    lin(`enc.${l}.o`, D, D);
    ln(`enc.${l}.mlp_ln`);
    lin(`enc.${l}.fc1`, c.ffnDim, D);
    lin(`enc.${l}.fc2`, D, c.ffnDim);
  }
  ln('enc.ln');
  out.push({ name: 'dec.embed', shape: [c.vocabSize, D] }, { name: 'dec.pos', shape: [c.nTextCtx, D] });
  for (let l = 0; l < c.decoderLayers; l++) {
    ln(`dec.${l}.attn_ln`);
    lin(`dec.${l}.qkv`, 3 * D, D);
    lin(`dec.${l}.o`, D, D);
    ln(`dec.${l}.cross_ln`);
    lin(`dec.${l}.cq`, D, D);
    lin(`dec.${l}.ckv`, 2 * D, D);
    lin(`dec.${l}.co`, D, D);
    ln(`dec.${l}.mlp_ln`);
    lin(`dec.${l}.fc1`, c.ffnDim, D);
    lin(`dec.${l}.fc2`, D, c.ffnDim);
  }
  ln('dec.ln');
  return out;
}

/** Where a canonical tensor comes from in each layout: one source tensor, or rows stacked (a missing bias: zeros). */
type Source = { parts: { name: string; rows: number; optional?: boolean }[] };

/** The CTranslate2 variable name of a canonical tensor ('dec.0.ckv.w' -> 'decoder/layer_0/attention/linear_1/weight'). */
export function ct2VariableName(canonical: string): string {
  const m = /^(enc|dec)\.(?:(\d+)\.)?(.+)$/.exec(canonical)!;
  const side = m[1] === 'enc' ? 'encoder' : 'decoder';
  const layer = m[2] === undefined ? '' : `layer_${m[2]}/`;
  const rest = m[3]!;
  const leaf = (p: string): string => {
    const [what, wb] = [p.slice(0, p.lastIndexOf('.')), p.slice(p.lastIndexOf('.') + 1)];
    const isLn = /ln$/.test(what);
    const map: Record<string, string> = {
      attn_ln: 'self_attention/layer_norm', qkv: 'self_attention/linear_0', o: 'self_attention/linear_1',
      cross_ln: 'attention/layer_norm', cq: 'attention/linear_0', ckv: 'attention/linear_1', co: 'attention/linear_2',
      mlp_ln: 'ffn/layer_norm', fc1: 'ffn/linear_0', fc2: 'ffn/linear_1', ln: 'layer_norm', conv1: 'conv1', conv2: 'conv2',
    };
    const suffix = isLn ? (wb === 'w' ? 'gamma' : 'beta') : wb === 'w' ? 'weight' : 'bias';
    return `${map[what]}/${suffix}`;
  };
  if (rest === 'pos') return `${side}/position_encodings/encodings`;
  if (rest === 'embed') return `${side}/embeddings/weight`;
  return `${side}/${layer}${leaf(rest)}`;
}

function hfSource(canonical: string, c: WhisperConfig): Source {
  const m = /^(enc|dec)\.(?:(\d+)\.)?(.+)$/.exec(canonical)!;
  const side = m[1] === 'enc' ? 'model.encoder' : 'model.decoder';
  const p = m[2] === undefined ? `${side}.` : `${side}.layers.${m[2]}.`;
  const rest = m[3]!;
  const D = c.dModel;
  const one = (name: string): Source => ({ parts: [{ name, rows: 0 }] });
  if (rest === 'pos') return one(`${side}.embed_positions.weight`);
  if (rest === 'embed') return one(`${side}.embed_tokens.weight`);
  const [what, wb] = [rest.slice(0, rest.lastIndexOf('.')), rest.slice(rest.lastIndexOf('.') + 1)];
  const suffix = wb === 'w' ? 'weight' : 'bias';
  const stacked = (attn: string, projs: string[]): Source => ({
    parts: projs.map((proj) => ({ name: `${p}${attn}.${proj}_proj.${suffix}`, rows: D, optional: wb === 'b' && proj === 'k' })),
  });
  switch (what) {
    case 'qkv':
      return stacked('self_attn', ['q', 'k', 'v']);
    case 'ckv':
      return stacked('encoder_attn', ['k', 'v']);
    case 'cq':
      return one(`${p}encoder_attn.q_proj.${suffix}`);
    case 'o':
      return one(`${p}self_attn.out_proj.${suffix}`);
    case 'co':
      return one(`${p}encoder_attn.out_proj.${suffix}`);
    case 'attn_ln':
      return one(`${p}self_attn_layer_norm.${suffix}`);
    case 'cross_ln':
      return one(`${p}encoder_attn_layer_norm.${suffix}`);
    case 'mlp_ln':
      return one(`${p}final_layer_norm.${suffix}`);
    case 'ln':
      return one(`${side}.layer_norm.${suffix}`);
    default:
      return one(`${p}${what}.${suffix}`); // conv1, conv2, fc1, fc2
  }
}

/** Everything a Whisper model brings: its shape, its tensors (read one at a time), tokenizer and decoding lists. */
export interface WhisperFiles {
  format: 'ctranslate2' | 'safetensors';
  config: WhisperConfig;
  /** Reads one canonical tensor (whisperSchema's names). */
  tensor(name: string, signal?: AbortSignal): Promise<WhisperTensor>;
  tokenizerJson: unknown;
  /** Ids never sampled (config.json's suppress_ids / generation_config's suppress_tokens). */
  suppressIds: number[];
  /** Ids never sampled first (suppress_ids_begin / begin_suppress_tokens). */
  suppressAtBegin: number[];
  /** Bytes of tensor data the weights take. */
  totalBytes: number;
}

const bad = (source: ModelSource, file: string, msg: string): HearthError =>
  new HearthError('CORRUPT_FILE', `${source.id}: ${file}: ${msg}`, { hint: 'The Whisper model files are damaged or incomplete: download them again.', details: { file } });

function parseJson(text: string, file: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(text);
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    /* reported below */
  }
  throw new HearthError('CORRUPT_FILE', `${file} is not a JSON object.`, { hint: 'Download the file again.', details: { file } });
}

const idList = (v: unknown): number[] => (Array.isArray(v) ? v.filter((x): x is number => Number.isInteger(x) && x >= 0) : []);

/** True when `files` (a source's listing) look like a Whisper model in either layout. */
export async function isWhisperSource(source: ModelSource, signal?: AbortSignal): Promise<boolean> {
  const files = await source.list(signal);
  if (files.includes('model.bin')) return true;
  if (!files.includes('config.json')) return false;
  const cfg = parseJson(await source.readText('config.json', signal), 'config.json');
  return cfg.model_type === 'whisper' || (Array.isArray(cfg.architectures) && cfg.architectures.includes('WhisperForConditionalGeneration'));
}

/** Opens a Whisper model folder (model.bin or model.safetensors, with config.json and tokenizer.json). */
export async function openWhisper(source: ModelSource, signal?: AbortSignal): Promise<WhisperFiles> {
  throwIfAborted(signal);
  const files = await source.list(signal);
  if (!files.includes('tokenizer.json')) {
    throw new HearthError('MISSING_FILE', `${source.id} has no tokenizer.json next to the Whisper weights.`, {
      hint: "Download the model repository's tokenizer.json with the weights.",
      details: { files },
    });
  }
  const tokenizerJson: unknown = parseJson(await source.readText('tokenizer.json', signal), 'tokenizer.json');
  if (files.includes('model.bin')) return openCt2(source, files, tokenizerJson, signal);
  if (files.includes('model.safetensors') && files.includes('config.json')) return openHf(source, files, tokenizerJson, signal);
  throw new HearthError('MISSING_FILE', `No Whisper weights in ${source.id} (it has ${files.join(', ')}).`, {
    hint: 'Expected a CTranslate2 model.bin (faster-whisper) or model.safetensors with config.json (Hugging Face).',
    details: { files },
  });
}

function toF32(dtype: string, bytes: Uint8Array, count: number): Float32Array {
  const out = new Float32Array(count);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < count; i++) {
    if (dtype === 'F32' || dtype === 'float32') out[i] = dv.getFloat32(4 * i, true);
    else if (dtype === 'F16' || dtype === 'float16') out[i] = f16BitsToF32(dv.getUint16(2 * i, true));
    else out[i] = bf16BitsToF32(dv.getUint16(2 * i, true));
  }
  return out;
}

const f32Bytes = (a: Float32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

function checkShape(source: ModelSource, file: string, name: string, got: number[], want: number[]): void {
  if (got.length !== want.length || got.some((d, i) => d !== want[i])) {
    throw bad(source, file, `tensor ${name} has shape [${got.join(', ')}], expected [${want.join(', ')}] for this Whisper size.`);
  }
}

async function openCt2(source: ModelSource, files: string[], tokenizerJson: unknown, signal?: AbortSignal): Promise<WhisperFiles> {
  const file = 'model.bin';
  const src: ByteSource = await source.open(file, signal);
  const header = await readCt2Header(src, signal);
  if (header.spec && header.spec !== 'WhisperSpec') {
    throw new HearthError('UNSUPPORTED_ARCHITECTURE', `${file} holds a CTranslate2 ${header.spec}, not a Whisper model.`, {
      hint: 'Use a faster-whisper (CTranslate2 WhisperSpec) model.bin.',
      details: { spec: header.spec },
    });
  }
  const v = (name: string): Ct2Variable => {
    const x = header.variables.get(name);
    if (!x) throw bad(source, file, `variable ${name} is missing.`);
    return x;
  };
  let encoderLayers = 0;
  while (header.variables.has(`encoder/layer_${encoderLayers}/ffn/linear_0/weight`)) encoderLayers++;
  let decoderLayers = 0;
  while (header.variables.has(`decoder/layer_${decoderLayers}/ffn/linear_0/weight`)) decoderLayers++;
  const conv1 = v('encoder/conv1/weight').shape;
  const config: WhisperConfig = {
    nMels: conv1[1]!,
    dModel: conv1[0]!,
    ffnDim: v('encoder/layer_0/ffn/linear_0/weight').shape[0]!,
    encoderLayers,
    decoderLayers,
    encoderHeads: await readCt2Scalar(src, v('encoder/num_heads'), signal),
    decoderHeads: await readCt2Scalar(src, v('decoder/num_heads'), signal),
    nAudioCtx: v('encoder/position_encodings/encodings').shape[0]!,
    nTextCtx: v('decoder/position_encodings/encodings').shape[0]!,
    vocabSize: v('decoder/embeddings/weight').shape[0]!,
  };
  checkConfig(config, file);
  const shapes = new Map(whisperSchema(config).map((s) => [s.name, s.shape]));
  let totalBytes = 0;
  for (const name of shapes.keys()) {
    const x = v(ct2VariableName(name));
    totalBytes += x.end - x.begin;
  }
  const side = files.includes('config.json') ? parseJson(await source.readText('config.json', signal), 'config.json') : {};
  return {
    format: 'ctranslate2',
    config,
    tokenizerJson,
    suppressIds: idList(side.suppress_ids),
    suppressAtBegin: idList(side.suppress_ids_begin),
    totalBytes,
    async tensor(name, sig) {
      const want = shapes.get(name);
      if (!want) throw new HearthError('INVALID_ARGUMENT', `${name} is not a Whisper tensor.`);
      const x = v(ct2VariableName(name));
      checkShape(source, file, x.name, x.shape, want);
      const bytes = await src.read(x.begin, x.end - x.begin, sig);
      const count = want.reduce((a, b) => a * b, 1);
      if (x.dtype === 'float16') return { dtype: 'F16', shape: want, data: bytes };
      if (x.dtype === 'float32') return { dtype: 'F32', shape: want, data: bytes };
      if (x.dtype === 'bfloat16') return { dtype: 'F32', shape: want, data: f32Bytes(toF32('bfloat16', bytes, count)) };
      if (x.dtype === 'int8') {
        // per-row int8 with float scales: w = q / scale (CTranslate2's quantization convention)
        const s = header.variables.get(`${x.name.replace(/\/weight$/, '')}/weight_scale`);
        if (!s) throw bad(source, file, `int8 variable ${x.name} has no weight_scale.`);
        const scales = toF32(s.dtype, await src.read(s.begin, s.end - s.begin, sig), s.shape.reduce((a, b) => a * b, 1));
        const q = new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        const rows = want[0]!;
        const cols = count / rows;
        const out = new Float32Array(count);
        for (let r = 0; r < rows; r++) {
          const inv = 1 / (scales.length === 1 ? scales[0]! : scales[r]!);
          for (let i = 0; i < cols; i++) out[r * cols + i] = q[r * cols + i]! * inv;
        }
        return { dtype: 'F32', shape: want, data: f32Bytes(out) };
      }
      throw new HearthError('UNSUPPORTED_TENSOR_TYPE', `${file}: ${x.name} is ${x.dtype}; Hearth reads Whisper weights as float32, float16, bfloat16 or int8.`, {
        hint: 'Convert the model with --quantization float16 (or int8).',
      });
    },
  };
}

async function openHf(source: ModelSource, files: string[], tokenizerJson: unknown, signal?: AbortSignal): Promise<WhisperFiles> {
  const cfg = parseJson(await source.readText('config.json', signal), 'config.json');
  const num = (key: string): number => {
    const x = cfg[key];
    if (!Number.isInteger(x) || (x as number) <= 0) {
      throw new HearthError('CORRUPT_FILE', `config.json: ${key} is ${JSON.stringify(x)}, not a positive integer.`, { hint: 'Use the config.json of a WhisperForConditionalGeneration model.' });
    }
    return x as number;
  };
  const config: WhisperConfig = {
    nMels: num('num_mel_bins'),
    dModel: num('d_model'),
    ffnDim: num('encoder_ffn_dim'),
    encoderLayers: num('encoder_layers'),
    decoderLayers: num('decoder_layers'),
    encoderHeads: num('encoder_attention_heads'),
    decoderHeads: num('decoder_attention_heads'),
    nAudioCtx: num('max_source_positions'),
    nTextCtx: num('max_target_positions'),
    vocabSize: num('vocab_size'),
  };
  checkConfig(config, 'config.json');
  const file = 'model.safetensors';
  const src = await source.open(file, signal);
  const header = await readSafetensorsHeader(src, signal);
  const byName = new Map<string, SafetensorsEntry>(header.tensors.map((t) => [t.name, t]));
  const gen = files.includes('generation_config.json') ? parseJson(await source.readText('generation_config.json', signal), 'generation_config.json') : {};
  const shapes = new Map(whisperSchema(config).map((s) => [s.name, s.shape]));
  const entry = (name: string): SafetensorsEntry | undefined => byName.get(name) ?? byName.get(name.replace(/^model\./, ''));
  let totalBytes = 0;
  for (const name of shapes.keys()) {
    for (const p of hfSource(name, config).parts) {
      const t = entry(p.name);
      if (!t && !p.optional) throw bad(source, file, `tensor ${p.name} is missing.`);
      if (t && !['F32', 'F16', 'BF16'].includes(t.dtype)) {
        throw new HearthError('UNSUPPORTED_TENSOR_TYPE', `${file}: ${p.name} is ${t.dtype}; Hearth reads F32, F16 and BF16.`, { hint: 'Save the model in float32, float16 or bfloat16.' });
      }
      totalBytes += t ? t.end - t.begin : 0;
    }
  }
  return {
    format: 'safetensors',
    config,
    tokenizerJson,
    suppressIds: idList(gen.suppress_tokens),
    suppressAtBegin: idList(gen.begin_suppress_tokens),
    totalBytes,
    async tensor(name, sig) {
      const want = shapes.get(name);
      if (!want) throw new HearthError('INVALID_ARGUMENT', `${name} is not a Whisper tensor.`);
      const { parts } = hfSource(name, config);
      const read = async (p: { name: string; rows: number; optional?: boolean }, shape: number[]): Promise<{ dtype: string; bytes: Uint8Array | null; count: number }> => {
        const t = entry(p.name);
        const count = shape.reduce((a, b) => a * b, 1);
        if (!t) return { dtype: 'F32', bytes: null, count };
        checkShape(source, file, p.name, t.shape, shape);
        return { dtype: t.dtype, bytes: await src.read(t.begin, t.end - t.begin, sig), count };
      };
      if (parts.length === 1) {
        const r = await read(parts[0]!, want);
        if (r.dtype === 'BF16') return { dtype: 'F32', shape: want, data: f32Bytes(toF32('BF16', r.bytes!, r.count)) };
        return { dtype: r.dtype as 'F32' | 'F16', shape: want, data: r.bytes! };
      }
      // stacked rows: q|k|v or k|v, each [D] or [D, D]
      const partShape = [config.dModel, ...want.slice(1)];
      const got = await Promise.all(parts.map((p) => read(p, partShape)));
      const allF16 = got.every((g) => g.bytes && g.dtype === 'F16');
      if (allF16) {
        const out = new Uint8Array(got.reduce((a, g) => a + g.bytes!.byteLength, 0));
        let at = 0;
        for (const g of got) {
          out.set(g.bytes!, at);
          at += g.bytes!.byteLength;
        }
        return { dtype: 'F16', shape: want, data: out };
      }
      const out = new Float32Array(want.reduce((a, b) => a * b, 1));
      got.forEach((g, i) => {
        if (g.bytes) out.set(toF32(g.dtype, g.bytes, g.count), i * g.count);
      });
      return { dtype: 'F32', shape: want, data: f32Bytes(out) };
    },
  };
}

function checkConfig(c: WhisperConfig, file: string): void {
  const ok = Object.values(c).every((x) => Number.isInteger(x) && x > 0) && c.dModel % c.encoderHeads === 0 && c.dModel % c.decoderHeads === 0;
  if (!ok || (c.dModel / c.encoderHeads) % 4 !== 0 || c.dModel / c.decoderHeads > 256) {
    throw new HearthError('UNSUPPORTED_ARCHITECTURE', `${file}: a Whisper shape Hearth cannot run (${JSON.stringify(c)}).`, {
      hint: 'Head sizes must be multiples of 4 up to 256, and every size a positive integer.',
      details: { ...c },
    });
  }
}

/** A tensor's values as f32 (the reference and tests). */
export function whisperTensorF32(t: WhisperTensor): Float32Array {
  return toF32(t.dtype, t.data, t.shape.reduce((a, b) => a * b, 1));
}
