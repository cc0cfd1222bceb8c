/**
 * CPU reference of Whisper (the oracle for the kernels and the GPU forward): LayerNorm, exact GELU,
 * conv1d, non-causal multi-head attention, the encoder and a decoder step with its self-attention
 * KV cache and cross-attention K/V computed once per window. Plain loops in f64 accumulation.
 */
import { melFilterbank, HOP, N_FFT, WINDOW_SAMPLES } from '../audio/mel.js';
import { WHISPER_EPS, type WhisperConfig } from '../formats/whisper.js';
import { matmulRef } from './matmul.js';

/** LayerNorm of each row: (x - mean) / sqrt(var + eps) * g + b. */
export function layerNormRef(x: Float32Array, g: Float32Array, b: Float32Array, rows: number, cols: number, eps = WHISPER_EPS): Float32Array {
  const y = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let i = 0; i < cols; i++) mean += x[r * cols + i]!;
    mean /= cols;
    let v = 0;
    for (let i = 0; i < cols; i++) v += (x[r * cols + i]! - mean) ** 2;
    const inv = 1 / Math.sqrt(v / cols + eps);
    for (let i = 0; i < cols; i++) y[r * cols + i] = (x[r * cols + i]! - mean) * inv * g[i]! + b[i]!;
  }
  return y;
}

/** erf by its Maclaurin series (exact to f64 rounding for |z| < 4; |erf| = 1 within 2e-8 beyond). */
export function erfRef(z: number): number {
  if (Math.abs(z) >= 4) return Math.sign(z);
  let term = z;
  let sum = z;
  for (let n = 1; n < 200; n++) {
    term *= (-z * z) / n;
    const add = term / (2 * n + 1);
    sum += add;
    if (Math.abs(add) < 1e-17) break;
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

/** GELU as PyTorch's nn.GELU() (Whisper's): x * (1 + erf(x / sqrt 2)) / 2. */
export function geluRef(x: Float32Array): Float32Array {
  return x.map((v) => 0.5 * v * (1 + erfRef(v / Math.SQRT2)));
}

/** conv1d with kernel 3, padding 1: x [tIn, cIn] (time-major), w [cOut, cIn, 3], out [ceil(tIn / stride), cOut]. */
export function conv1dRef(x: Float32Array, tIn: number, cIn: number, w: Float32Array, b: Float32Array, cOut: number, stride: number): Float32Array {
  const tOut = Math.floor((tIn + 2 - 3) / stride) + 1;
  const y = new Float32Array(tOut * cOut);
  for (let t = 0; t < tOut; t++) {
    for (let o = 0; o < cOut; o++) {
      let s = b[o]!;
      for (let k = 0; k < 3; k++) {
        const src = t * stride + k - 1;
        if (src < 0 || src >= tIn) continue;
        for (let c = 0; c < cIn; c++) s += x[src * cIn + c]! * w[(o * cIn + c) * 3 + k]!;
      }
      y[t * cOut + o] = s;
    }
  }
  return y;
}

/**
 * Multi-head attention of q [tq, heads * hd] over k, v [tk, heads * hd]. `causalStart`: query i
 * sees keys 0..causalStart + i only (a decoder step over its cache); undefined: every key.
 */
export function mhaRef(q: Float32Array, k: Float32Array, v: Float32Array, tq: number, tk: number, heads: number, hd: number, causalStart?: number): Float32Array {
  const d = heads * hd;
  const out = new Float32Array(tq * d);
  const scale = 1 / Math.sqrt(hd);
  const s = new Float64Array(tk);
  for (let i = 0; i < tq; i++) {
    const n = causalStart === undefined ? tk : Math.min(tk, causalStart + i + 1);
    for (let h = 0; h < heads; h++) {
      let max = -Infinity;
      for (let j = 0; j < n; j++) {
        let dot = 0;
        for (let e = 0; e < hd; e++) dot += q[i * d + h * hd + e]! * k[j * d + h * hd + e]!;
        s[j] = dot * scale;
        if (s[j]! > max) max = s[j]!;
      }
      let sum = 0;
      for (let j = 0; j < n; j++) {
        s[j] = Math.exp(s[j]! - max);
        sum += s[j]!;
      }
      for (let e = 0; e < hd; e++) {
        let acc = 0;
        for (let j = 0; j < n; j++) acc += s[j]! * v[j * d + h * hd + e]!;
        out[i * d + h * hd + e] = acc / sum;
      }
    }
  }
  return out;
}

/** x[t, :] += table[pos + t, :]. */
export function addRowsRef(x: Float32Array, table: Float32Array, tokens: number, n: number, pos: number): Float32Array {
  const y = x.slice();
  for (let i = 0; i < tokens * n; i++) y[i] = y[i]! + table[pos * n + i]!;
  return y;
}

/** The model's tensors as f32, by canonical name (formats/whisper.ts whisperSchema). */
export interface WhisperRefModel {
  config: WhisperConfig;
  t: Map<string, Float32Array>;
}

function get(m: WhisperRefModel, name: string): Float32Array {
  const x = m.t.get(name);
  if (!x) throw new Error(`reference: tensor ${name} missing`);
  return x;
}

function addInto(x: Float32Array, y: Float32Array): void {
  for (let i = 0; i < x.length; i++) x[i] = x[i]! + y[i]!;
}

function mlp(m: WhisperRefModel, p: string, x: Float32Array, rows: number): void {
  const { dModel: D, ffnDim: F } = m.config;
  const h = layerNormRef(x, get(m, `${p}.mlp_ln.w`), get(m, `${p}.mlp_ln.b`), rows, D);
  const a = geluRef(matmulRef(h, get(m, `${p}.fc1.w`), rows, F, D, get(m, `${p}.fc1.b`)));
  addInto(x, matmulRef(a, get(m, `${p}.fc2.w`), rows, D, F, get(m, `${p}.fc2.b`)));
}

/** Splits [rows, parts * d] into `parts` blocks [rows, d]. */
function split(x: Float32Array, rows: number, d: number, parts: number): Float32Array[] {
  return Array.from({ length: parts }, (_, p) => {
    const out = new Float32Array(rows * d);
    for (let r = 0; r < rows; r++) out.set(x.subarray(r * parts * d + p * d, r * parts * d + (p + 1) * d), r * d);
    return out;
  });
}

/** The encoder over one window's log-mel [2 * nAudioCtx, nMels] (frame-major): [nAudioCtx, dModel]. */
export function whisperEncodeRef(m: WhisperRefModel, mel: Float32Array): Float32Array {
  const c = m.config;
  const D = c.dModel;
  const T = c.nAudioCtx;
  let x = geluRef(conv1dRef(mel, 2 * T, c.nMels, get(m, 'enc.conv1.w'), get(m, 'enc.conv1.b'), D, 1));
  x = geluRef(conv1dRef(x, 2 * T, D, get(m, 'enc.conv2.w'), get(m, 'enc.conv2.b'), D, 2));
  x = addRowsRef(x, get(m, 'enc.pos'), T, D, 0);
  const hd = D / c.encoderHeads;
  for (let l = 0; l < c.encoderLayers; l++) {
    const p = `enc.${l}`;
    const h = layerNormRef(x, get(m, `${p}.attn_ln.w`), get(m, `${p}.attn_ln.b`), T, D);
    const [q, k, v] = split(matmulRef(h, get(m, `${p}.qkv.w`), T, 3 * D, D, get(m, `${p}.qkv.b`)), T, D, 3);
    const att = mhaRef(q!, k!, v!, T, T, c.encoderHeads, hd);
    addInto(x, matmulRef(att, get(m, `${p}.o.w`), T, D, D, get(m, `${p}.o.b`)));
    mlp(m, p, x, T);
  }
  return layerNormRef(x, get(m, 'enc.ln.w'), get(m, 'enc.ln.b'), T, D);
}

/** The decoder, one or more tokens at a time, with its self-attention cache and the window's cross K/V. */
export class WhisperDecoderRef {
  private readonly kCache: Float32Array[];
  private readonly vCache: Float32Array[];
  private readonly crossK: Float32Array[] = [];
  private readonly crossV: Float32Array[] = [];
  pos = 0;

  constructor(
    private readonly m: WhisperRefModel,
    encoderOut: Float32Array,
  ) {
    const c = m.config;
    const D = c.dModel;
    this.kCache = Array.from({ length: c.decoderLayers }, () => new Float32Array(c.nTextCtx * D));
    this.vCache = Array.from({ length: c.decoderLayers }, () => new Float32Array(c.nTextCtx * D));
    for (let l = 0; l < c.decoderLayers; l++) {
      const [k, v] = split(matmulRef(encoderOut, get(m, `dec.${l}.ckv.w`), c.nAudioCtx, 2 * D, D, get(m, `dec.${l}.ckv.b`)), c.nAudioCtx, D, 2);
      this.crossK.push(k!);
      this.crossV.push(v!);
    }
  }

  /** Feeds tokens at positions pos.. and returns the logits [vocab] after the last of them. */
  step(tokens: number[]): Float32Array {
    const { m } = this;
    const c = m.config;
    const D = c.dModel;
    const n = tokens.length;
    const hd = D / c.decoderHeads;
    const embed = get(m, 'dec.embed');
    const pos = get(m, 'dec.pos');
    const x = new Float32Array(n * D);
    tokens.forEach((id, i) => {
      for (let e = 0; e < D; e++) x[i * D + e] = embed[id * D + e]! + pos[(this.pos + i) * D + e]!;
    });
    for (let l = 0; l < c.decoderLayers; l++) {
      const p = `dec.${l}`;
      let h = layerNormRef(x, get(m, `${p}.attn_ln.w`), get(m, `${p}.attn_ln.b`), n, D);
      const [q, k, v] = split(matmulRef(h, get(m, `${p}.qkv.w`), n, 3 * D, D, get(m, `${p}.qkv.b`)), n, D, 3);
      this.kCache[l]!.set(k!, this.pos * D);
      this.vCache[l]!.set(v!, this.pos * D);
      const kvLen = this.pos + n;
      let att = mhaRef(q!, this.kCache[l]!.subarray(0, kvLen * D), this.vCache[l]!.subarray(0, kvLen * D), n, kvLen, c.decoderHeads, hd, this.pos);
      addInto(x, matmulRef(att, get(m, `${p}.o.w`), n, D, D, get(m, `${p}.o.b`)));
      h = layerNormRef(x, get(m, `${p}.cross_ln.w`), get(m, `${p}.cross_ln.b`), n, D);
      const cq = matmulRef(h, get(m, `${p}.cq.w`), n, D, D, get(m, `${p}.cq.b`));
      att = mhaRef(cq, this.crossK[l]!, this.crossV[l]!, n, c.nAudioCtx, c.decoderHeads, hd);
      addInto(x, matmulRef(att, get(m, `${p}.co.w`), n, D, D, get(m, `${p}.co.b`)));
      mlp(m, p, x, n);
    }
    this.pos += n;
    const last = layerNormRef(x.subarray((n - 1) * D), get(m, 'dec.ln.w'), get(m, 'dec.ln.b'), 1, D);
    return matmulRef(last, embed, 1, c.vocabSize, D);
  }
}

/**
 * Log-mel as whisper's audio.py, written plainly (a DFT per bin with Math.cos/sin, f64 throughout)
 * to check audio/mel.ts; the filterbank is audio/mel.ts's, checked on its own against librosa's values.
 */
export function logMelRef(samples: Float32Array, nMels: number): Float32Array {
  const n = samples.length + WINDOW_SAMPLES;
  const frames = Math.floor(n / HOP);
  const filters = melFilterbank(nMels);
  const bins = N_FFT / 2 + 1;
  const x = (j: number): number => {
    const r = j < 0 ? -j : j >= n ? 2 * (n - 1) - j : j;
    return r < samples.length ? samples[r]! : 0;
  };
  const logs = new Float64Array(frames * nMels);
  for (let t = 0; t < frames; t++) {
    const power = new Float64Array(bins);
    // a frame of the appended silence has no power at all: its DFT is skipped, exactly
    if (t * HOP - N_FFT / 2 >= samples.length) {
      for (let mm = 0; mm < nMels; mm++) logs[t * nMels + mm] = -10;
      continue;
    }
    for (let k = 0; k < bins; k++) {
      let re = 0;
      let im = 0;
      for (let i = 0; i < N_FFT; i++) {
        const w = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / N_FFT);
        const s = x(t * HOP - N_FFT / 2 + i) * w;
        re += s * Math.cos((2 * Math.PI * k * i) / N_FFT);
        im -= s * Math.sin((2 * Math.PI * k * i) / N_FFT);
      }
      power[k] = re * re + im * im;
    }
    for (let mm = 0; mm < nMels; mm++) {
      let s = 0;
      for (let k = 0; k < bins; k++) s += filters[mm * bins + k]! * power[k]!;
      logs[t * nMels + mm] = Math.log10(Math.max(s, 1e-10));
    }
  }
  let max = -Infinity;
  for (const v of logs) max = Math.max(max, v);
  return Float32Array.from(logs, (v) => (Math.max(v, max - 8) + 4) / 4);
}
