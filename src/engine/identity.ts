/**
 * What a stored KV cache was computed with. K/V values are only meaningful for the exact weights,
 * in the exact GPU format, that produced them: a session is resumed only by an engine whose
 * fingerprint matches, never by a look-alike (same repo name, another revision or dtype).
 */
import type { ByteSource, ModelSource } from '../hub/byte-source.js';
import { Sha256 } from '../hub/sha256.js';
import type { ModelConfig } from '../formats/config.js';
import type { TensorInfo } from '../formats/tensors.js';

export interface ModelIdentity {
  /** The model source's id: 'hf:owner/name@revision', a URL, a file path. */
  source: string;
  /** The revision named in the source id, when there is one. */
  revision: string | null;
  /** The weight format asked for at load ('as-stored' when none was). */
  dtype: string;
  architecture: string;
  /**
   * sha256 (hex) over every tensor's name, dtype and shape, and 288 bytes sampled from each tensor's
   * data as the loader read it (both ends and 16 evenly spaced spans): another fine-tune of the same
   * architecture differs here even where its header is identical.
   */
  weights: string;
  /** sha256 (hex) over `weights`, the model config, the GPU formats and dtype: what sessions compare. */
  fingerprint: string;
}

const EDGE = 64;
const SPANS = 16;
const SPAN = 10;

/** The bytes of a tensor we hash: its first and last 64 bytes and 16 spans of 10 between them. */
function sample(bytes: Uint8Array): Uint8Array {
  const n = bytes.byteLength;
  if (n <= 2 * EDGE + SPANS * SPAN) return bytes.slice();
  const out = new Uint8Array(2 * EDGE + SPANS * SPAN);
  out.set(bytes.subarray(0, EDGE), 0);
  out.set(bytes.subarray(n - EDGE), EDGE);
  for (let i = 0; i < SPANS; i++) {
    const at = EDGE + Math.floor(((i + 1) * (n - 2 * EDGE - SPAN)) / (SPANS + 1));
    out.set(bytes.subarray(at, at + SPAN), 2 * EDGE + i * SPAN);
  }
  return out;
}

/**
 * Wraps a model source so that every read passing through it leaves a small sample behind: the
 * weights are read once by the loader anyway, so fingerprinting them costs no extra I/O (a
 * separate pass would mean hundreds of HTTP range requests for an uncached Hub model).
 */
export class FingerprintingSource implements ModelSource {
  private readonly samples = new Map<string, Uint8Array>();

  constructor(private readonly inner: ModelSource) {}

  get id(): string {
    return this.inner.id;
  }

  get entry(): string | undefined {
    return this.inner.entry;
  }

  list(signal?: AbortSignal): Promise<string[]> {
    return this.inner.list(signal);
  }

  has(file: string, signal?: AbortSignal): Promise<boolean> {
    return this.inner.has(file, signal);
  }

  readText(file: string, signal?: AbortSignal): Promise<string> {
    return this.inner.readText(file, signal);
  }

  async open(file: string, signal?: AbortSignal): Promise<ByteSource> {
    const src = await this.inner.open(file, signal);
    const samples = this.samples;
    const wrapped: ByteSource = {
      name: src.name,
      size: () => src.size(),
      read: async (offset, length, s) => {
        const bytes = await src.read(offset, length, s);
        samples.set(`${file}\u0000${offset}\u0000${length}`, sample(bytes));
        return bytes;
      },
    };
    if (src.sha256 !== undefined) Object.defineProperty(wrapped, 'sha256', { value: src.sha256, enumerable: true });
    return wrapped;
  }

  /**
   * The identity of what was loaded, once the loader has read the tensors. `longRope`: which
   * LongRoPE factors the engine's context length picked (models/rope-table.ts longRopeFactors),
   * for models that have them: a KV cache rotated with one list is no use to the other.
   */
  identity(tensors: Map<string, TensorInfo>, config: ModelConfig, dtype: string | undefined, formats: Record<string, number>, longRope: 'long' | 'short' | null = null): ModelIdentity {
    const enc = new TextEncoder();
    const w = new Sha256();
    for (const name of [...tensors.keys()].sort()) {
      const t = tensors.get(name)!;
      w.update(enc.encode(`${name}\u0000${t.dtype}\u0000${t.shape.join(',')}\u0000${t.byteLength}\u0000`));
      const s = this.samples.get(`${t.file}\u0000${t.offset}\u0000${t.byteLength}`);
      // tensors the loader never reads (e.g. rope_freqs read at open) still count by their descriptor
      if (s) w.update(s);
      w.update(new Uint8Array([s ? 1 : 0]));
    }
    const weights = w.hex();
    const d = dtype ?? 'as-stored';
    const sortedFormats = Object.fromEntries(Object.entries(formats).sort(([a], [b]) => (a < b ? -1 : 1)));
    const fingerprint = new Sha256().update(enc.encode(JSON.stringify({ weights, dtype: d, formats: sortedFormats, config, ...(longRope ? { longRope } : {}) }))).hex();
    return { source: this.inner.id, revision: revisionOf(this.inner.id), dtype: d, architecture: config.architecture, weights, fingerprint };
  }
}

function revisionOf(id: string): string | null {
  const m = /^hf:.*@([^@/]+)$/.exec(id);
  return m ? m[1]! : null;
}

/** For engines built without the loader (tests): the identity of the config and model id alone. */
export function identityWithoutWeights(modelId: string, config: ModelConfig): ModelIdentity {
  const enc = new TextEncoder();
  const weights = new Sha256().update(enc.encode(`unsampled\u0000${modelId}`)).hex();
  const fingerprint = new Sha256().update(enc.encode(JSON.stringify({ weights, config }))).hex();
  return { source: modelId, revision: revisionOf(modelId), dtype: 'as-stored', architecture: config.architecture, weights, fingerprint };
}

/** Why two identities differ, in words, for SESSION_MODEL_MISMATCH. */
export function describeMismatch(stored: ModelIdentity, loaded: ModelIdentity): string {
  const diffs: string[] = [];
  if (stored.source !== loaded.source) diffs.push(`model ${stored.source} vs ${loaded.source}`);
  if (stored.revision !== loaded.revision) diffs.push(`revision ${stored.revision ?? '(none)'} vs ${loaded.revision ?? '(none)'}`);
  if (stored.dtype !== loaded.dtype) diffs.push(`dtype ${stored.dtype} vs ${loaded.dtype}`);
  if (stored.weights !== loaded.weights) diffs.push('different weights');
  if (!diffs.length) diffs.push('a different configuration or GPU format');
  return diffs.join(', ');
}
