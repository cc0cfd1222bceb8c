/**
 * Where a Whisper decoder step's time goes (issue 15: ~0.3 s a token seen under load), with the
 * real tiny.en on Dawn: one window encoded from an espeak-ng clip, then
 *   - decode(): N greedy steps end to end (submit, GPU, logits readback of vocab floats);
 *   - the same steps without the readback (submit + onSubmittedWorkDone);
 *   - the CPU work of a step (the timestamp rules and log-softmax over the vocabulary, argmax);
 *   - per-kernel GPU time of one step from timestamp queries, where the adapter has them.
 *
 *   node --import tsx --import ./scripts/register-raw.mjs bench/whisper-step.ts [--steps 20] [--encode]
 */
import { readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { createNodeGpuContext } from '../src/gpu/node.js';
import { NodeDirectorySource } from '../src/hub/node-fs.js';
import { Whisper } from '../src/engine/whisper.js';
import { decodeAudio } from '../src/audio/decode.js';
import { logMelSpectrogram, melWindow } from '../src/audio/mel.js';
import { encodeDispatches } from '../src/gpu/dispatch.js';
import { GpuProfiler } from '../src/gpu/profiler.js';
import { defaultWhisperModel } from '../src/transcribe-cli.js';
import { SENTENCES, speak } from '../test/helpers/speech.js';

const { values: v } = parseArgs({ options: { steps: { type: 'string', default: '20' }, model: { type: 'string' }, encode: { type: 'boolean', default: false } } });
const steps = Number(v.steps);
const ctx = await createNodeGpuContext();
const w = await Whisper.load(ctx, new NodeDirectorySource(v.model ?? defaultWhisperModel()));
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const m = (w as any).model;
let t = performance.now();
if (v.encode) {
  const file = await readFile(speak(SENTENCES[0]!, 'bench/out/whisper/en-gb-x-rp@140', 'sentence-1'));
  const mel = logMelSpectrogram((await decodeAudio(file)).samples, w.info.config.nMels);
  await m.encode(melWindow(mel, 0));
  console.log(`encoder window: ${(performance.now() - t).toFixed(0)} ms (load ${loadavg()[0]!.toFixed(1)})`);
  // where the encoder's time goes: one more window, timestamped per kernel
  const eprof = new GpuProfiler(ctx);
  if (eprof.enabled) {
    const T = w.info.config.nAudioCtx;
    const conv = { tokens: 2 * T, pos: 0, kvLen: 2 * T };
    const rest = { tokens: T, pos: 0, kvLen: T };
    m.conv1Pass.step.write(conv);
    m.encoderPass.step.write(rest);
    const enc = ctx.device.createCommandEncoder();
    encodeDispatches(enc, m.conv1Pass.list, conv, eprof);
    encodeDispatches(enc, m.encoderPass.list, rest, eprof);
    eprof.resolve(enc);
    ctx.device.queue.submit([enc.finish()]);
    const byLabel = new Map<string, number>();
    for (const k of await eprof.read()) {
      const kind = k.label.replace(/^enc\.\d+\./, 'enc.*.').replace(/^dec\.\d+\./, 'dec.*.');
      byLabel.set(kind, (byLabel.get(kind) ?? 0) + k.ms);
    }
    const total = [...byLabel.values()].reduce((a, b) => a + b, 0);
    console.log(`GPU timestamps, one encoder window: ${total.toFixed(0)} ms`);
    for (const [k, ms] of [...byLabel].sort((a, b) => b[1] - a[1]).slice(0, 14)) console.log(`  ${k}: ${ms.toFixed(1)} ms (${((100 * ms) / total).toFixed(0)}%)`);
  }
  eprof.destroy();
} else console.log('no encoder pass (--encode runs one): the cross-attention K/V stay zeros, which costs a step the same');
const sp = w.specials;
const argmax = (x: Float32Array) => x.reduce((b, v, i) => (v > x[b]! ? i : b), 0);

// end to end, as decodeWindow does (rules timed apart)
let logits: Float32Array = await m.decode([sp.sot], 0);
const tokens: number[] = [];
let gpuMs = 0;
let cpuMs = 0;
for (let i = 0; i < steps; i++) {
  t = performance.now();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  (w as any).applyRules(logits, tokens, sp.timestampBegin + 1500);
  const next = argmax(logits);
  cpuMs += performance.now() - t;
  tokens.push(next === sp.eot ? 13 : next);
  t = performance.now();
  logits = await m.decode([tokens[i]!], 1 + i);
  gpuMs += performance.now() - t;
}
console.log(`decode() with readback: ${(gpuMs / steps).toFixed(1)} ms/step; CPU rules + argmax: ${(cpuMs / steps).toFixed(1)} ms/step (load ${loadavg()[0]!.toFixed(1)})`);

// the same passes without the logits readback
t = performance.now();
for (let i = 0; i < steps; i++) {
  const step = { tokens: 1, pos: 1 + i, kvLen: 2 + i };
  m.decoderPass.step.write(step);
  const enc = ctx.device.createCommandEncoder();
  encodeDispatches(enc, m.decoderPass.list, step);
  ctx.device.queue.submit([enc.finish()]);
  await ctx.device.queue.onSubmittedWorkDone();
}
console.log(`the step's passes without readback: ${((performance.now() - t) / steps).toFixed(1)} ms/step (load ${loadavg()[0]!.toFixed(1)})`);

// per kernel
const prof = new GpuProfiler(ctx);
if (prof.enabled) {
  const byLabel = new Map<string, number>();
  for (let i = 0; i < 3; i++) {
    const step = { tokens: 1, pos: 10 + i, kvLen: 11 + i };
    m.decoderPass.step.write(step);
    const enc = ctx.device.createCommandEncoder();
    encodeDispatches(enc, m.decoderPass.list, step, prof);
    prof.resolve(enc);
    ctx.device.queue.submit([enc.finish()]);
    for (const k of await prof.read()) {
      const kind = k.label.replace(/^dec\.\d+\./, 'dec.*.');
      byLabel.set(kind, (byLabel.get(kind) ?? 0) + k.ms / 3);
    }
  }
  const total = [...byLabel.values()].reduce((a, b) => a + b, 0);
  console.log(`GPU timestamps, one step: ${total.toFixed(1)} ms`);
  for (const [k, ms] of [...byLabel].sort((a, b) => b[1] - a[1])) console.log(`  ${k}: ${ms.toFixed(2)} ms (${((100 * ms) / total).toFixed(0)}%)`);
} else console.log('no timestamp-query on this adapter');
prof.destroy();
w.unload();
ctx.destroy();
process.exit(0);
