/**
 * Whisper acceptance and speed (issue 15), in Node on Dawn with the real tiny.en
 * ($HEARTH_MODELS/whisper-tiny.en, fetched by scripts/fetch-models.sh): espeak-ng reads
 * test/helpers/speech.ts's sentences and passage; each is transcribed through
 * audio.transcriptions.create (verbose_json), scored by word error rate, its timestamps checked,
 * its real-time factor measured; then N transcriptions in a row with live GPU buffers counted.
 *
 *   node --import tsx --import ./scripts/register-raw.mjs bench/whisper.ts [--repeat 20] [--out bench/results/2026-12-06-whisper.md] [--only 3]
 */
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { cpus, loadavg } from 'node:os';
import { createNodeGpuContext } from '../src/gpu/node.js';
import { createTranscriber } from '../src/node.js';
import { defaultWhisperModel } from '../src/transcribe-cli.js';
import type { TranscriptionVerbose } from '../src/api/audio.js';
import { countBuffers } from '../test/helpers/gpu-buffers.js';
import { ESPEAK_WPM, PASSAGE, SENTENCES, speak, wordErrorRate } from '../test/helpers/speech.js';

const { values: v } = parseArgs({ options: { repeat: { type: 'string', default: '20' }, out: { type: 'string' }, only: { type: 'string' }, model: { type: 'string' } } });
const dir = 'bench/out/whisper';
const ctx = await createNodeGpuContext();

const buffers = countBuffers(ctx.device); // live GPU buffers, counted until destroyed

const model = v.model ?? defaultWhisperModel();
let t = performance.now();
const audio = await createTranscriber({ model, gpu: ctx });
const loadMs = performance.now() - t;
const info = audio.info!;
console.log(`loaded ${model} in ${(loadMs / 1000).toFixed(1)} s, ${(info.memoryBytes / 2 ** 20).toFixed(1)} MiB on the GPU`);

interface Row {
  name: string;
  ref: string;
  hyp: string;
  wer: number;
  seconds: number;
  computeS: number;
  monotonic: boolean;
  segments: number;
}

async function transcribe(name: string, ref: string): Promise<Row> {
  const path = speak(ref, dir, name);
  const file = await readFile(path);
  const t0 = performance.now();
  const r = (await audio.transcriptions.create({ file, response_format: 'verbose_json' })) as TranscriptionVerbose;
  const computeS = (performance.now() - t0) / 1000;
  let monotonic = true;
  let last = 0;
  for (const s of r.segments) {
    if (!(s.start >= last && s.end >= s.start && s.end <= r.duration + 0.5)) monotonic = false;
    last = s.start;
  }
  const row = { name, ref, hyp: r.text.trim(), wer: wordErrorRate(ref, r.text), seconds: r.duration, computeS, monotonic, segments: r.segments.length };
  console.log(`${name}: WER ${(row.wer * 100).toFixed(1)}% ${row.seconds.toFixed(1)} s audio in ${computeS.toFixed(1)} s | ${row.hyp}`);
  return row;
}

const only = v.only === undefined ? SENTENCES.length : Number(v.only);
const rows: Row[] = [];
for (let i = 0; i < only; i++) rows.push(await transcribe(`sentence-${i + 1}`, SENTENCES[i]!));
const passage = await transcribe('passage', PASSAGE);

const repeat = Number(v.repeat);
const mem: { i: number; buffers: number; bytes: number }[] = [];
let repeatS = 0;
function report(): string[] {
  const mean = rows.reduce((a, r) => a + r.wer, 0) / Math.max(1, rows.length);
  const worst = Math.max(0, ...rows.map((r) => r.wer));
  const audioS = [...rows, passage].reduce((a, r) => a + r.seconds, 0);
  const computeS = [...rows, passage].reduce((a, r) => a + r.computeS, 0);
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const md = [
    `# Whisper tiny.en on Hearth (${new Date().toISOString().slice(0, 10)})`,
    '',
    `Machine: ${ctx.adapterInfo.description || ctx.adapterInfo.vendor} (${ctx.adapterInfo.architecture}), ${cpus().length} CPU cores shared with other work (load average ${loadavg().map((x) => x.toFixed(1)).join(' / ')} when written); Node ${process.version}, Dawn (\`webgpu\` package).`,
    `Model: ${model} (${info.format}, ${(info.memoryBytes / 2 ** 20).toFixed(1)} MiB on the GPU, loaded in ${(loadMs / 1000).toFixed(1)} s). Audio: espeak-ng -v en-us -s ${ESPEAK_WPM}; command: \`node --import tsx --import ./scripts/register-raw.mjs bench/whisper.ts\`.`,
    '',
    '## Accuracy (word error rate after English normalisation)',
    '',
    '| clip | audio s | WER | timestamps monotonic | segments | transcript |',
    '|---|---:|---:|---|---:|---|',
    ...[...rows, passage].map((r) => `| ${r.name} | ${r.seconds.toFixed(1)} | ${pct(r.wer)} | ${r.monotonic ? 'yes' : 'NO'} | ${r.segments} | ${r.hyp.replace(/\|/g, '\\|')} |`),
    '',
    `Short sentences: mean WER ${pct(mean)}, worst ${pct(worst)} (acceptance: mean <= 15%, none above 35%). Passage: ${pct(passage.wer)} (acceptance: <= 20%).`,
    '',
    '## Speed',
    '',
    `Real-time factor (audio seconds per second of compute, decoding and mel included): ${(audioS / computeS).toFixed(3)} over ${audioS.toFixed(1)} s of audio in ${computeS.toFixed(1)} s.`,
    'Every window runs the encoder over 30 s (1500 positions), as Whisper was trained, so a 3 s clip costs nearly as much as a 30 s one.',
    '',
    `## GPU memory over ${repeat} transcriptions in a row`,
    '',
    `Live GPU buffers and bytes relative to before the run (after loading and the accuracy runs): ${repeat} transcriptions of sentence-1 in ${repeatS.toFixed(0)} s.`,
    '',
    '| after | buffers | bytes |',
    '|---:|---:|---:|',
    ...(mem.length === 0 ? ['(not run yet)'] : []),
    ...mem.filter((m) => m.i === 1 || m.i % 5 === 0).map((m) => `| ${m.i} | ${m.buffers} | ${m.bytes} |`),
    '',
    "transformers.js Whisper: not run. Its pipeline needs ONNX exports of Whisper (encoder and merged decoder .onnx files) from the Hugging Face Hub, which this machine cannot reach (only npm, PyPI and Debian); we have no ONNX Whisper here.",
    '',
  ];
  return md;
}
const write = () => { if (v.out) writeFileSync(v.out, report().join('\n')); };
write();
// memory over repeated transcriptions of the first sentence
const base = { buffers: buffers.live(), bytes: buffers.bytes() };
const file = await readFile(speak(SENTENCES[0]!, dir, 'sentence-1'));
t = performance.now();
for (let i = 0; i < repeat; i++) {
  await audio.transcriptions.create({ file });
  mem.push({ i: i + 1, buffers: buffers.live() - base.buffers, bytes: buffers.bytes() - base.bytes });
  console.log(`run ${i + 1}: ${buffers.live() - base.buffers} buffers, ${buffers.bytes() - base.bytes} bytes more than before`);
}
repeatS = (performance.now() - t) / 1000;

write();
console.log(report().join('\n'));
await audio.unload();
ctx.destroy();
process.exit(0);
