/**
 * Whisper's forward pass on Hearth's kernels, as a recipe: the encoder (once per 30 s window) and a
 * decoder step, each read top to bottom as openai-whisper's model.py. Launches are recorded once at
 * load (pipelines, bind groups); a window or a token only writes the step uniform and replays them.
 *
 * Kernels: conv1d (unfold + matmul), gelu, add_rows (positions), layernorm, matmul (every linear
 * layer, in the weights' own format; biases and the residual add fused in), attention_full
 * (non-causal: encoder self-attention as per-head matmuls + softmax, and the decoder's
 * cross-attention over the window's K/V, computed once per window), kv_append + attention (the decoder's causal self-attention over its
 * KV cache), embed (tokens; the same table is the tied output projection).
 */
import { WHISPER_EPS, type WhisperConfig } from '../formats/whisper.js';
import type { GpuContext } from '../gpu/device.js';
import { createStorage, Readback, writeBuffer } from '../gpu/buffers.js';
import { destroyDispatches, encodeDispatches, StepUniform, type Dispatch, type StepParams } from '../gpu/dispatch.js';
import type { GpuWeight } from '../gpu/weights.js';
import { addRows } from '../kernels/add_rows.js';
import { attention, attentionScratchBytes } from '../kernels/attention.js';
import { attentionFull, attentionFullMatmul, attentionMatmulScratch } from '../kernels/attention_full.js';
import { conv1d } from '../kernels/conv1d.js';
import { embed } from '../kernels/embed.js';
import { gelu } from '../kernels/gelu.js';
import { kvAppend } from '../kernels/kv_append.js';
import { layerNorm } from '../kernels/layernorm.js';
import { matmul } from '../kernels/matmul.js';
import { HearthError } from '../errors.js';
import { qkvSections } from './state.js';
import type { WhisperWeights } from './whisper-weights.js';

/** The launches of one pass, with the step uniform they read. */
class Recorder {
  readonly list: Dispatch[] = [];
  constructor(
    readonly ctx: GpuContext,
    readonly step: StepUniform,
    readonly maxTokens: number,
  ) {}
  push(...d: (Dispatch | Dispatch[])[]): void {
    for (const x of d) this.list.push(...(Array.isArray(x) ? x : [x]));
  }
}

export class WhisperModel {
  readonly config: WhisperConfig;
  private readonly buffers: GPUBuffer[] = [];
  private readonly uniforms: StepUniform[] = [];
  private readonly conv1Pass: Recorder;
  private readonly encoderPass: Recorder;
  private readonly decoderPass: Recorder;
  private readonly mel: GPUBuffer;
  private readonly ids: GPUBuffer;
  private readonly logits: GPUBuffer;
  private readonly readback: Readback;
  /** Largest number of tokens one decoder call takes (a prompt). */
  readonly maxDecoderTokens: number;
  private destroyed = false;

  constructor(
    private readonly ctx: GpuContext,
    private readonly w: WhisperWeights,
  ) {
    const c = w.config;
    this.config = c;
    const D = c.dModel;
    const T = c.nAudioCtx;
    const buf = (floats: number, label: string): GPUBuffer => {
      const b = createStorage(ctx, floats * 4, `whisper.${label}`);
      this.buffers.push(b);
      return b;
    };
    const uniform = (): StepUniform => {
      const u = new StepUniform(ctx);
      this.uniforms.push(u);
      return u;
    };
    const M = (name: string): GpuWeight => w.matrix(name);
    const V = (name: string): GPUBuffer => w.vector(name);

    // ---- encoder state: one window, 2T mel frames -> T positions
    this.mel = buf(2 * T * c.nMels, 'mel');
    const columns = buf(Math.max(2 * T * c.nMels, T * D) * 3, 'conv.columns'); // conv1's 2T x nMels*3, conv2's T x D*3
    const conv1Out = buf(2 * T * D, 'conv1.out');
    const x = buf(T * D, 'enc.x');
    const h = buf(T * D, 'enc.h');
    const qkvE = qkvSections(T, D, D);
    const qkv = buf(qkvE.floats, 'enc.qkv');
    const att = buf(T * D, 'enc.att');
    const ffn = buf(T * c.ffnDim, 'enc.ffn');
    const encOut = buf(T * D, 'enc.out');
    // the cross-attention K|V of every decoder layer, computed once per window: [k block | v block]
    const kvE = qkvSections(T, 0, D);
    const crossKv = Array.from({ length: c.decoderLayers }, (_, l) => buf(kvE.floats, `cross_kv.${l}`));

    // ---- encoder recipe (model.py AudioEncoder.forward)
    const conv1 = new Recorder(ctx, uniform(), 2 * T); // step.tokens = 2T mel frames
    conv1.push(conv1d(ctx, { step: conv1.step.buffer, x: this.mel, tIn: 2 * T, cIn: c.nMels, w: M('enc.conv1.w'), bias: V('enc.conv1.b'), stride: 1, columns, out: conv1Out, maxTokens: 2 * T }, 'enc.conv1'));
    conv1.push(gelu(ctx, { step: conv1.step.buffer, x: conv1Out, n: D, maxTokens: 2 * T }, 'enc.conv1.gelu')); // x = gelu(conv1(mel))
    const enc = new Recorder(ctx, uniform(), T); // step.tokens = T positions, pos 0
    const es = enc.step.buffer;
    enc.push(conv1d(ctx, { step: es, x: conv1Out, tIn: 2 * T, cIn: D, w: M('enc.conv2.w'), bias: V('enc.conv2.b'), stride: 2, columns, out: x, maxTokens: T }, 'enc.conv2'));
    enc.push(gelu(ctx, { step: es, x, n: D, maxTokens: T }, 'enc.conv2.gelu')); // x = gelu(conv2(x))
    enc.push(addRows(ctx, { step: es, x, table: V('enc.pos'), n: D, rows: T, maxTokens: T }, 'enc.pos')); // x += positional embedding
    const hdE = D / c.encoderHeads;
    const attScratch = attentionMatmulScratch(ctx, T, hdE, 'enc.attn');
    this.buffers.push(attScratch.qh, attScratch.kh, attScratch.vt, attScratch.scores, attScratch.oh);
    for (let l = 0; l < c.encoderLayers; l++) {
      const p = `enc.${l}`;
      enc.push(layerNorm(ctx, { step: es, x, weight: V(`${p}.attn_ln.w`), bias: V(`${p}.attn_ln.b`), out: h, cols: D, maxTokens: T, eps: WHISPER_EPS }, `${p}.attn_ln`)); // h = ln(x)
      enc.push(matmul(ctx, { step: es, x: h, w: M(`${p}.qkv.w`), bias: V(`${p}.qkv.b`), y: qkv, maxTokens: T, sections: qkvE.sections }, `${p}.qkv`)); // q, k, v = h @ Wqkv + b
      const [, kS, vS] = qkvE.sections;
      enc.push(attentionFullMatmul(ctx, { step: es, q: qkv, k: qkv, v: qkv, out: att, heads: c.encoderHeads, headDim: hdE, kvLen: T, maxTokens: T, kOffset: kS!.offset, vOffset: vS!.offset, scratch: attScratch }, `${p}.attn`)); // att = softmax(q k^T / sqrt(d)) v
      enc.push(matmul(ctx, { step: es, x: att, w: M(`${p}.o.w`), bias: V(`${p}.o.b`), y: x, maxTokens: T, accumulate: true }, `${p}.o`)); // x += att @ Wo + b
      this.mlp(enc, p, x, h, ffn); // x += fc2(gelu(fc1(ln(x))))
    }
    enc.push(layerNorm(ctx, { step: es, x, weight: V('enc.ln.w'), bias: V('enc.ln.b'), out: encOut, cols: D, maxTokens: T, eps: WHISPER_EPS }, 'enc.ln_post')); // out = ln_post(x)
    for (let l = 0; l < c.decoderLayers; l++) {
      // cross-attention keys and values of this window, once (the decoder's layers reuse them every token)
      enc.push(matmul(ctx, { step: es, x: encOut, w: M(`dec.${l}.ckv.w`), bias: V(`dec.${l}.ckv.b`), y: crossKv[l]!, maxTokens: T, sections: kvE.sections.slice(1) }, `dec.${l}.cross_kv`));
    }
    this.conv1Pass = conv1;
    this.encoderPass = enc;

    // ---- decoder state
    const N = c.nTextCtx;
    this.maxDecoderTokens = N;
    this.ids = buf(N, 'dec.ids');
    const dx = buf(N * D, 'dec.x');
    const dh = buf(N * D, 'dec.h');
    const qkvD = qkvSections(N, D, D);
    const dqkv = buf(qkvD.floats, 'dec.qkv');
    const datt = buf(N * D, 'dec.att');
    const dffn = buf(N * c.ffnDim, 'dec.ffn');
    const hdD = D / c.decoderHeads;
    const kCache = Array.from({ length: c.decoderLayers }, (_, l) => buf(N * D, `dec.k_cache.${l}`));
    const vCache = Array.from({ length: c.decoderLayers }, (_, l) => buf(N * D, `dec.v_cache.${l}`));
    const scratch = buf(attentionScratchBytes(ctx, { nHeads: c.decoderHeads, nKvHeads: c.decoderHeads, headDim: hdD, maxCtx: N }) / 4, 'dec.attn_scratch');
    this.logits = buf(c.vocabSize, 'dec.logits');
    this.readback = new Readback(ctx, c.vocabSize * 4, 'whisper.logits');

    // ---- decoder recipe (model.py TextDecoder.forward), step.pos = position of the first token
    const dec = new Recorder(ctx, uniform(), N);
    const ds = dec.step.buffer;
    dec.push(embed(ctx, { step: ds, ids: this.ids, table: M('dec.embed'), out: dx, maxTokens: N }, 'dec.embed')); // x = token embedding
    dec.push(addRows(ctx, { step: ds, x: dx, table: V('dec.pos'), n: D, rows: N, maxTokens: N }, 'dec.pos')); // x += learned position embedding
    const [qS, kS, vS] = qkvD.sections;
    const range = (s: { offset: number; width: number }) => ({ buffer: dqkv, offset: s.offset * 4, size: N * s.width * 4 });
    for (let l = 0; l < c.decoderLayers; l++) {
      const p = `dec.${l}`;
      // causal self-attention over the KV cache
      dec.push(layerNorm(ctx, { step: ds, x: dx, weight: V(`${p}.attn_ln.w`), bias: V(`${p}.attn_ln.b`), out: dh, cols: D, maxTokens: N, eps: WHISPER_EPS }, `${p}.attn_ln`)); // h = ln(x)
      dec.push(matmul(ctx, { step: ds, x: dh, w: M(`${p}.qkv.w`), bias: V(`${p}.qkv.b`), y: dqkv, maxTokens: N, sections: qkvD.sections }, `${p}.qkv`)); // q, k, v = h @ Wqkv + b
      dec.push(kvAppend(ctx, { step: ds, k: range(kS!), v: range(vS!), kCache: kCache[l]!, vCache: vCache[l]!, nKvHeads: c.decoderHeads, headDim: hdD, maxCtx: N, maxTokens: N }, `${p}.kv_append`)); // cache k, v
      dec.push(attention(ctx, { step: ds, q: range(qS!), kCache: kCache[l]!, vCache: vCache[l]!, out: datt, nHeads: c.decoderHeads, nKvHeads: c.decoderHeads, headDim: hdD, maxCtx: N, maxTokens: N, scratch }, `${p}.attn`)); // att = causal softmax(q K^T / sqrt(d)) V
      dec.push(matmul(ctx, { step: ds, x: datt, w: M(`${p}.o.w`), bias: V(`${p}.o.b`), y: dx, maxTokens: N, accumulate: true }, `${p}.o`)); // x += att @ Wo + b
      // cross-attention over this window's encoder states
      dec.push(layerNorm(ctx, { step: ds, x: dx, weight: V(`${p}.cross_ln.w`), bias: V(`${p}.cross_ln.b`), out: dh, cols: D, maxTokens: N, eps: WHISPER_EPS }, `${p}.cross_ln`)); // h = ln(x)
      dec.push(matmul(ctx, { step: ds, x: dh, w: M(`${p}.cq.w`), bias: V(`${p}.cq.b`), y: dqkv, maxTokens: N }, `${p}.cq`)); // q = h @ Wq + b
      dec.push(attentionFull(ctx, { step: ds, q: dqkv, k: crossKv[l]!, v: crossKv[l]!, out: datt, heads: c.decoderHeads, headDim: hdD, kvLen: T, maxTokens: N, kOffset: kvE.sections[1]!.offset, vOffset: kvE.sections[2]!.offset }, `${p}.cross`)); // att = softmax(q Kx^T / sqrt(d)) Vx
      dec.push(matmul(ctx, { step: ds, x: datt, w: M(`${p}.co.w`), bias: V(`${p}.co.b`), y: dx, maxTokens: N, accumulate: true }, `${p}.co`)); // x += att @ Wo + b
      this.mlp(dec, p, dx, dh, dffn); // x += fc2(gelu(fc1(ln(x))))
    }
    dec.push(layerNorm(ctx, { step: ds, x: dx, weight: V('dec.ln.w'), bias: V('dec.ln.b'), out: dh, cols: D, maxTokens: N, eps: WHISPER_EPS }, 'dec.ln')); // h = ln(x)
    dec.push(matmul(ctx, { step: ds, x: dh, w: M('dec.embed'), y: this.logits, maxTokens: N, lastRowOnly: true }, 'dec.logits')); // logits = h[last] @ E^T (tied)
    this.decoderPass = dec;
  }

  /** x += fc2(gelu(fc1(ln(x)))) */
  private mlp(r: Recorder, p: string, x: GPUBuffer, h: GPUBuffer, ffn: GPUBuffer): void {
    const { ctx, w } = { ctx: this.ctx, w: this.w };
    const s = r.step.buffer;
    const { dModel: D, ffnDim: F } = this.config;
    r.push(layerNorm(ctx, { step: s, x, weight: w.vector(`${p}.mlp_ln.w`), bias: w.vector(`${p}.mlp_ln.b`), out: h, cols: D, maxTokens: r.maxTokens, eps: WHISPER_EPS }, `${p}.mlp_ln`));
    r.push(matmul(ctx, { step: s, x: h, w: w.matrix(`${p}.fc1.w`), bias: w.vector(`${p}.fc1.b`), y: ffn, maxTokens: r.maxTokens }, `${p}.fc1`));
    r.push(gelu(ctx, { step: s, x: ffn, n: F, maxTokens: r.maxTokens }, `${p}.gelu`));
    r.push(matmul(ctx, { step: s, x: ffn, w: w.matrix(`${p}.fc2.w`), bias: w.vector(`${p}.fc2.b`), y: x, maxTokens: r.maxTokens, accumulate: true }, `${p}.fc2`));
  }

  private alive(): void {
    if (this.destroyed) throw new HearthError('ENGINE_UNLOADED', 'The Whisper model was unloaded.', { hint: 'Load it again before transcribing.' });
  }

  /** Runs the encoder over one window's log-mel [2 * nAudioCtx, nMels] (frame-major) and computes every layer's cross-attention K/V. */
  async encode(mel: Float32Array): Promise<void> {
    this.alive();
    const T = this.config.nAudioCtx;
    if (mel.length !== 2 * T * this.config.nMels) {
      throw new HearthError('INVALID_ARGUMENT', `Whisper encode: the log-mel has ${mel.length} values, expected ${2 * T} frames x ${this.config.nMels} bins.`);
    }
    writeBuffer(this.ctx, this.mel, 0, mel);
    const conv: StepParams = { tokens: 2 * T, pos: 0, kvLen: 2 * T };
    const rest: StepParams = { tokens: T, pos: 0, kvLen: T };
    this.conv1Pass.step.write(conv);
    this.encoderPass.step.write(rest);
    const enc = this.ctx.device.createCommandEncoder({ label: 'whisper.encoder' });
    encodeDispatches(enc, this.conv1Pass.list, conv);
    encodeDispatches(enc, this.encoderPass.list, rest);
    this.ctx.device.queue.submit([enc.finish()]);
    await this.ctx.device.queue.onSubmittedWorkDone();
  }

  /**
   * Feeds `tokens` at positions pos.. (the self-attention cache holds positions 0..pos-1 of this
   * window's sequence) and returns the logits after the last of them.
   */
  async decode(tokens: readonly number[], pos: number): Promise<Float32Array> {
    this.alive();
    const n = tokens.length;
    if (n < 1 || n > this.maxDecoderTokens || pos < 0 || pos + n > this.config.nTextCtx) {
      throw new HearthError('CONTEXT_OVERFLOW', `Whisper decode: ${n} tokens at position ${pos} do not fit the decoder's ${this.config.nTextCtx} positions.`, {
        hint: 'Use a shorter prompt.',
      });
    }
    writeBuffer(this.ctx, this.ids, 0, Uint32Array.from(tokens));
    const step: StepParams = { tokens: n, pos, kvLen: pos + n };
    this.decoderPass.step.write(step);
    const enc = this.ctx.device.createCommandEncoder({ label: 'whisper.decoder' });
    encodeDispatches(enc, this.decoderPass.list, step);
    this.readback.copyFrom(enc, this.logits);
    this.ctx.device.queue.submit([enc.finish()]);
    return new Float32Array(await this.readback.read());
  }

  /** GPU bytes of the working state (activations, caches, the cross-attention K/V). */
  get stateBytes(): number {
    return this.buffers.reduce((a, b) => a + b.size, 0);
  }

  /** Frees the state and the launches' own buffers; the weights stay (WhisperWeights.destroy frees them). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const r of [this.conv1Pass, this.encoderPass, this.decoderPass]) destroyDispatches(r.list);
    for (const b of this.buffers) b.destroy();
    for (const u of this.uniforms) u.destroy();
    this.readback.destroy();
  }
}
