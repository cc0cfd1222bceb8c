import { tensorSchema } from './schema.js';
import { HearthError } from '../errors.js';
import { throwIfAborted, type ModelSource } from '../hub/byte-source.js';
import { configFieldName, configFromGguf, configFromHf, type ModelConfig } from './config.js';
import { ggufTensorInfos, readGgufHeader, type GgufValue } from './gguf.js';
import { parseSafetensorsIndex, readSafetensorsHeader, safetensorsTensorInfos } from './safetensors.js';
import { FUSED_TENSORS, splitRows, type TensorInfo } from './tensors.js';

/** Raw contents of whichever Hugging Face side files exist, for the tokenizer and chat template. */
export interface HfFiles {
  configJson?: unknown;
  generationConfig?: unknown;
  tokenizerJson?: unknown;
  tokenizerConfig?: unknown;
  vocabJson?: unknown;
  mergesTxt?: string;
  addedTokens?: unknown;
  specialTokensMap?: unknown;
  /** SentencePiece tokenizer.model, read only when there is no tokenizer.json (older Llama 2 repos). */
  tokenizerModel?: Uint8Array;
}

export interface ModelFiles {
  format: 'gguf' | 'safetensors';
  config: ModelConfig;
  /** By canonical name ('layers.0.q'); extras under their source name. */
  tensors: Map<string, TensorInfo>;
  /** GGUF metadata, including the embedded tokenizer (tokenizer.ggml.*) and chat template. */
  ggufMetadata?: Map<string, GgufValue>;
  hfFiles?: HfFiles;
  /** Bytes of tensor data across all weight files: what loading the weights reads. */
  totalBytes: number;
  /** The weight files (one GGUF, one safetensors, or the shards). */
  files: string[];
}

export interface OpenModelOptions {
  /** Which weight file to use when the source holds several (a .gguf, .safetensors, or index .json). */
  file?: string;
  signal?: AbortSignal;
}

const INDEX = 'model.safetensors.index.json';

/**
 * Finds a model's weight files in a source and reads their headers and config: tensor
 * descriptors and a normalized ModelConfig. Reads no tensor data (except GGUF's tiny rope_freqs).
 */
export async function openModel(source: ModelSource, opts: OpenModelOptions = {}): Promise<ModelFiles> {
  const { signal } = opts;
  throwIfAborted(signal);
  const chosen = opts.file ?? source.entry;
  // a named GGUF is self-contained: no listing (which may cost a probe per known file name)
  if (chosen !== undefined && /\.gguf$/i.test(chosen)) return openGguf(source, chosen, signal);
  const files = await source.list(signal);
  if (chosen !== undefined) {
    if (/\.safetensors$/i.test(chosen)) return openSafetensors(source, files, [chosen], null, signal);
    if (/\.index\.json$/i.test(chosen)) return openSafetensors(source, files, null, chosen, signal);
    throw new HearthError('UNSUPPORTED_FORMAT', `${chosen} is not a model weight file Hearth reads.`, {
      hint: 'Choose a .gguf or .safetensors file (or model.safetensors.index.json).',
      details: { file: chosen },
    });
  }
  const ggufs = files.filter((f) => /\.gguf$/i.test(f));
  const safetensors = files.filter((f) => /\.safetensors$/i.test(f));
  const hasConfig = files.includes('config.json');
  if (files.includes(INDEX) && (hasConfig || ggufs.length === 0)) return openSafetensors(source, files, null, INDEX, signal);
  if (safetensors.length > 0 && (hasConfig || ggufs.length === 0)) {
    if (files.includes('model.safetensors')) return openSafetensors(source, files, ['model.safetensors'], null, signal);
    if (safetensors.length === 1) return openSafetensors(source, files, safetensors, null, signal);
    throw new HearthError('INVALID_ARGUMENT', `${source.id} holds several safetensors files and no ${INDEX}: ${safetensors.join(', ')}.`, {
      hint: 'Name the file to load (the `file` option).',
      details: { files: safetensors },
    });
  }
  if (ggufs.length === 1) return openGguf(source, ggufs[0]!, signal);
  if (ggufs.length > 1) {
    throw new HearthError('INVALID_ARGUMENT', `${source.id} holds several GGUF files: ${ggufs.join(', ')}.`, {
      hint: 'Pick one with the `file` option (or name it after the repo: owner/name/file.gguf).',
      details: { files: ggufs },
    });
  }
  throw new HearthError('MISSING_FILE', `No model weights found in ${source.id}${files.length ? ` (it has ${files.join(', ')})` : ''}.`, {
    hint: `Expected a .gguf file, model.safetensors, or ${INDEX} with config.json.`,
    details: { files },
  });
}

/** One tensor's bytes, read from its file: the whole file is never read. */
export async function readTensor(source: ModelSource, info: TensorInfo, signal?: AbortSignal): Promise<Uint8Array> {
  const src = await source.open(info.file, signal);
  return src.read(info.offset, info.byteLength, signal);
}

async function openGguf(source: ModelSource, file: string, signal?: AbortSignal): Promise<ModelFiles> {
  const src = await source.open(file, signal);
  const header = await readGgufHeader(src, { signal });
  const tensors = toMap(ggufTensorInfos(header, file), file);
  // RoPE frequency divisors, tiny F32 vectors the config needs: Llama 3's rope_freqs, LongRoPE's pair (Phi-3)
  const factors = async (name: string): Promise<Float32Array | null> => {
    const info = tensors.get(name);
    if (!info) return null;
    if (info.dtype !== 'F32') throw new HearthError('UNSUPPORTED_TENSOR_TYPE', `${file}: ${name} is ${info.dtype}; Hearth reads it as F32 only.`, { details: { file, tensor: name, dtype: info.dtype } });
    const bytes = await readTensor(source, info, signal);
    return new Float32Array(bytes.slice().buffer, 0, bytes.byteLength >> 2);
  };
  const config = configFromGguf(header.metadata, {
    tensors,
    ropeFreqFactors: await factors('rope_freqs.weight'),
    ropeFactorsLong: await factors('rope_factors_long.weight'),
    ropeFactorsShort: await factors('rope_factors_short.weight'),
    file,
  });
  splitFusedTensors(config, tensors, file);
  checkModelTensors(config, tensors, file, 'gguf');
  return { format: 'gguf', config, tensors, ggufMetadata: header.metadata, totalBytes: sumBytes(tensors), files: [file] };
}

async function openSafetensors(source: ModelSource, listed: string[], shardFiles: string[] | null, indexFile: string | null, signal?: AbortSignal): Promise<ModelFiles> {
  const dir = dirOf(indexFile ?? shardFiles![0]!);
  const side = (name: string) => dir + name;
  if (!listed.includes(side('config.json')) && !(await source.has(side('config.json'), signal))) {
    throw new HearthError('MISSING_FILE', `config.json was not found next to the safetensors weights in ${source.id}.`, {
      hint: 'A Hugging Face model folder needs its config.json; download it with the weights.',
      details: { file: side('config.json') },
    });
  }
  const configJson = parseJson(await source.readText(side('config.json'), signal), side('config.json'));

  let expected: Map<string, string> | null = null;
  if (indexFile) {
    const index = parseSafetensorsIndex(await source.readText(indexFile, signal), indexFile);
    expected = new Map([...index.weightMap].map(([t, f]) => [t, dir + f]));
    shardFiles = [...new Set(expected.values())];
  }
  const shards = shardFiles!;
  const headers = await mapLimit(shards, 4, async (f) => readSafetensorsHeader(await source.open(f, signal), signal));
  const all: TensorInfo[] = [];
  shards.forEach((f, i) => {
    const header = headers[i]!;
    if (expected) {
      const present = new Set(header.tensors.map((t) => t.name));
      for (const [t, shard] of expected) {
        if (shard === f && !present.has(t)) {
          throw new HearthError('CORRUPT_FILE', `${indexFile} places tensor ${t} in ${f}, but that shard does not contain it.`, {
            hint: 'The shards do not match the index: download the model again.',
            details: { tensor: t, file: f },
          });
        }
      }
    }
    all.push(...safetensorsTensorInfos(header, f, hfArchitecture(configJson)));
  });
  const tensors = toMap(all, indexFile ?? shards[0]!);

  const hfFiles = await readHfSideFiles(source, listed, dir, signal);
  hfFiles.configJson = configJson;
  const config = configFromHf(configJson, { generationConfig: hfFiles.generationConfig, tensors, file: side('config.json') });
  splitFusedTensors(config, tensors, indexFile ?? shards[0]!);
  checkModelTensors(config, tensors, indexFile ?? shards[0]!, 'safetensors');
  return { format: 'safetensors', config, tensors, hfFiles, totalBytes: sumBytes(tensors), files: shards };
}

const SIDE_FILES: ReadonlyArray<[keyof HfFiles, string, 'json' | 'text']> = [
  ['generationConfig', 'generation_config.json', 'json'],
  ['tokenizerJson', 'tokenizer.json', 'json'],
  ['tokenizerConfig', 'tokenizer_config.json', 'json'],
  ['vocabJson', 'vocab.json', 'json'],
  ['mergesTxt', 'merges.txt', 'text'],
  ['addedTokens', 'added_tokens.json', 'json'],
  ['specialTokensMap', 'special_tokens_map.json', 'json'],
];

async function readHfSideFiles(source: ModelSource, listed: string[], dir: string, signal?: AbortSignal): Promise<HfFiles> {
  const out: HfFiles = {};
  await Promise.all(
    SIDE_FILES.map(async ([key, name, kind]) => {
      const file = dir + name;
      if (!listed.includes(file)) return;
      const text = await source.readText(file, signal);
      (out as Record<string, unknown>)[key] = kind === 'json' ? parseJson(text, file) : text;
    }),
  );
  const spm = dir + 'tokenizer.model';
  if (out.tokenizerJson === undefined && listed.includes(spm)) {
    const src = await source.open(spm, signal);
    out.tokenizerModel = await src.read(0, await src.size(), signal);
  }
  return out;
}

/**
 * Matrices a file stores fused (Phi-3's qkv_proj / attn_qkv and gate_up_proj / ffn_up, read
 * under the canonical names 'layers.N.qkv' and 'layers.N.gate_up') replaced, in place, by their
 * parts q, k, v and gate, up: each a row range of the same bytes. The schema, the loader (which
 * fuses parts of one format back into one matmul: the same bytes, one launch), the reference and
 * the model identity then see the tensors every other family has.
 */
export function splitFusedTensors(c: ModelConfig, tensors: Map<string, TensorInfo>, where: string): void {
  const qDim = c.numHeads * c.headDim;
  const kvDim = c.numKvHeads * c.headDim;
  const rows: Record<string, number> = { q: qDim, k: kvDim, v: kvDim, q_bias: qDim, k_bias: kvDim, v_bias: kvDim, gate: c.intermediateSize, up: c.intermediateSize };
  for (const [name, info] of [...tensors]) {
    const m = /^(layers\.\d+\.)(.+)$/.exec(name);
    const parts = m ? FUSED_TENSORS[m[2]!] : undefined;
    if (!m || !parts) continue;
    tensors.delete(name);
    for (const part of splitRows(info, parts.map((p) => ({ name: m[1]! + p, rows: rows[p]! })), where)) {
      const prev = tensors.get(part.name);
      if (prev) {
        throw new HearthError('CORRUPT_FILE', `${where}: tensor ${part.name} appears twice (${prev.sourceName} and, fused, ${info.sourceName}).`, { details: { tensor: part.name } });
      }
      tensors.set(part.name, part);
    }
  }
}

/**
 * Every tensor the forward pass will ask for exists with the shape the config implies, so a
 * mismatched file fails here, by name, rather than deep inside loading.
 */
export function checkModelTensors(c: ModelConfig, tensors: ReadonlyMap<string, TensorInfo>, where: string, format?: 'gguf' | 'safetensors'): void {
  // the layers the tensors hold, before anything is sized from the declared count: a declared
  // count above them names billions of missing tensors; below them, layers would be silently
  // skipped (llama.cpp refuses tensors it did not expect)
  let stored = 0;
  let storedName = '';
  for (const t of tensors.values()) {
    const m = /^layers\.(\d+)\./.exec(t.name);
    if (m && Number(m[1]) + 1 > stored) {
      stored = Number(m[1]) + 1;
      storedName = t.sourceName;
    }
  }
  if (stored !== c.numLayers) {
    const field = configFieldName(c, 'numLayers', format);
    throw new HearthError(
      'CORRUPT_FILE',
      stored > c.numLayers
        ? `${where}: ${field} declares ${c.numLayers} layers, but the file holds tensors of ${stored} (up to ${storedName}).`
        : `${where}: ${field} declares ${c.numLayers} layers, but the file holds ${stored === 0 ? 'no layer tensors' : `tensors of only ${stored}`}.`,
      {
        hint: 'The metadata and the tensors disagree: the file is damaged or was written wrongly. Download or convert it again.',
        details: { file: where, field, declared: c.numLayers, stored },
      },
    );
  }
  const want = tensorSchema(c).map((t): [string, number[]] => [t.name, t.shape]);
  for (const [name, shape] of want) {
    const t = tensors.get(name);
    if (!t) {
      throw new HearthError('CORRUPT_FILE', `${where}: the model has no tensor ${name}, which its config requires.`, {
        hint: `The file is incomplete or not a ${c.architecture} model.`,
        details: { tensor: name },
      });
    }
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new HearthError('CORRUPT_FILE', `${where}: tensor ${t.sourceName} has shape [${t.shape.join(', ')}], but the config implies [${shape.join(', ')}].`, {
        hint: 'The weights do not match the model configuration.',
        details: { tensor: t.sourceName, shape: t.shape, expected: shape },
      });
    }
  }
}

/** config.json's architectures[0] (or model_type): which family's tensor names to read. */
function hfArchitecture(config: unknown): string | undefined {
  if (typeof config !== 'object' || config === null) return undefined;
  const c = config as Record<string, unknown>;
  const a = Array.isArray(c.architectures) ? c.architectures[0] : undefined;
  return typeof a === 'string' ? a : typeof c.model_type === 'string' ? c.model_type : undefined;
}

function toMap(infos: TensorInfo[], where: string): Map<string, TensorInfo> {
  const m = new Map<string, TensorInfo>();
  for (const t of infos) {
    const prev = m.get(t.name);
    if (prev) {
      throw new HearthError('CORRUPT_FILE', `${where}: tensor ${t.name} appears twice (${prev.sourceName} in ${prev.file}, ${t.sourceName} in ${t.file}).`, { details: { tensor: t.name } });
    }
    m.set(t.name, t);
  }
  return m;
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new HearthError('CORRUPT_FILE', `${file} is not valid JSON (${e instanceof Error ? e.message : String(e)}).`, {
      hint: 'The file is damaged: download it again.',
      details: { file },
    });
  }
}

function sumBytes(tensors: Map<string, TensorInfo>): number {
  let n = 0;
  for (const t of tensors.values()) n += t.byteLength;
  return n;
}

function dirOf(file: string): string {
  const i = file.lastIndexOf('/');
  return i < 0 ? '' : file.slice(0, i + 1);
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
