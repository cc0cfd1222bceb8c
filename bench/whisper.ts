/**
 * Whisper acceptance and speed (issue 15), in Node on Dawn with the real tiny.en
 * ($HEARTH_MODELS/whisper-tiny.en, fetched by scripts/models.mjs): espeak-ng reads
 * test/helpers/speech.ts's sentences and passage; each is transcribed through
 * audio.transcriptions.create (verbose_json), scored by word error rate, its timestamps checked,
 * its real-time factor measured; then N transcriptions in a row with live GPU buffers and the
 * process RSS recorded.
 *
 * With `--faster-whisper <python>` (a venv outside the repository with faster-whisper installed)
 * the same WAVs also go through faster-whisper (CTranslate2 on the CPU, the same model folder) via
 * bench/whisper-faster-whisper.py, alternating clip by clip with Hearth: its text and WER beside
 * ours, its RTF, and (on Hearth's own 16 kHz samples) whether its tokens equal ours and how far our
 * log-mel is from its FeatureExtractor. Without it the peer is skipped.
 * `--screen en-us@140,en-gb@140,...` first runs faster-whisper alone over the sentences in each
 * espeak-ng voice@speed (the voice is chosen on the reference runtime's figures, not ours).
 *
 *   node --import tsx --import ./scripts/register-raw.mjs bench/whisper.ts [--faster-whisper /work/venv-fw/bin/python]
 *     [--threads 2] [--voice en-us@140] [--screen v@wpm,... [--screen-only]] [--repeat 20] [--only 3] [--memory-only] [--out bench/results/....md]
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { cpus, loadavg } from 'node:os';
import { createNodeGpuContext } from '../src/gpu/node.js';
import { createTranscriber } from '../src/node.js';
import { defaultWhisperModel } from '../src/transcribe-cli.js';
import type { TranscriptionVerbose } from '../src/api/audio.js';
import { decodeAudio } from '../src/audio/decode.js';
import { logMelSpectrogram, melWindow, WINDOW_FRAMES } from '../src/audio/mel.js';
import { countBuffers } from '../test/helpers/gpu-buffers.js';
import { ESPEAK_VOICE, PASSAGE, SENTENCES, parseVoice, speak, voiceName, wordErrorRate, type EspeakVoice } from '../test/helpers/speech.js';

const { values: v } = parseArgs({
  options: {
    repeat: { type: 'string', default: '20' },
    out: { type: 'string' },
    only: { type: 'string' },
    model: { type: 'string' },
    'faster-whisper': { type: 'string' },
    threads: { type: 'string', default: '2' },
    voice: { type: 'string' },
    screen: { type: 'string' },
    'screen-only': { type: 'boolean', default: false },
    'memory-only': { type: 'boolean', default: false },
  },
});
const voice: EspeakVoice = v.voice ? parseVoice(v.voice) : ESPEAK_VOICE;
const wavDir = (vc: EspeakVoice) => `bench/out/whisper/${voiceName(vc)}`;
const model = v.model ?? defaultWhisperModel();
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const cell = (s: string) => s.replace(/\|/g, '\\|');
const load1 = () => loadavg()[0]!;

// ---- faster-whisper, a child process speaking JSON lines ----
interface PeerResult {
  text: string;
  segments: { start: number; end: number; text: string; tokens: number[] }[];
  seconds: number;
  mel_max_abs_diff?: number;
}
class Peer {
  private readonly lines: AsyncIterator<string>;
  private readonly proc;
  versions = '';
  constructor(python: string) {
    this.proc = spawn(python, ['bench/whisper-faster-whisper.py'], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.lines = createInterface({ input: this.proc.stdout! })[Symbol.asyncIterator]();
  }
  async ask<T = PeerResult>(req: object): Promise<T> {
    this.proc.stdin!.write(JSON.stringify(req) + '\n');
    const r = await this.lines.next();
    if (r.done) throw new Error('faster-whisper exited');
    return JSON.parse(r.value) as T;
  }
  close(): void {
    this.proc.stdin!.end();
  }
}
const threads = Number(v.threads);
let peer: Peer | null = null;
if (v['faster-whisper']) {
  peer = new Peer(v['faster-whisper']);
  const ready = await peer.ask<{ versions: Record<string, string>; threads: number }>({ model, threads });
  peer.versions = Object.entries(ready.versions).map(([k, x]) => `${k} ${x}`).join(', ');
  console.log(`faster-whisper ready: ${peer.versions}, cpu_threads=${ready.threads}`);
}

// ---- voice screening on faster-whisper alone ----
interface Screen {
  voice: string;
  wers: number[];
  mean: number;
  worst: number;
}
const screens: Screen[] = [];
if (v.screen) {
  if (!peer) throw new Error('--screen needs --faster-whisper');
  for (const name of v.screen.split(',')) {
    const vc = parseVoice(name);
    const wers: number[] = [];
    for (let i = 0; i < SENTENCES.length; i++) {
      const r = await peer.ask({ wav: speak(SENTENCES[i]!, wavDir(vc), `sentence-${i + 1}`, vc) });
      wers.push(wordErrorRate(SENTENCES[i]!, r.text));
    }
    const s = { voice: voiceName(vc), wers, mean: wers.reduce((a, b) => a + b, 0) / wers.length, worst: Math.max(...wers) };
    screens.push(s);
    console.log(`screen ${s.voice}: mean ${pct(s.mean)}, worst ${pct(s.worst)} | ${wers.map(pct).join(' ')}`);
  }
  if (v['screen-only']) {
    for (const s of screens) console.log(`| ${s.voice} | ${pct(s.mean)} | ${pct(s.worst)} | ${s.wers.map(pct).join(' | ')} |`);
    peer.close();
    process.exit(0);
  }
}

// ---- Hearth ----
const ctx = await createNodeGpuContext();
const buffers = countBuffers(ctx.device); // live GPU buffers, counted until destroyed
const rss0 = process.memoryUsage().rss;
let t = performance.now();
const audio = await createTranscriber({ model, gpu: ctx });
const loadMs = performance.now() - t;
const info = audio.info!;
const loaded = { buffers: buffers.live(), bytes: buffers.bytes(), rss: process.memoryUsage().rss };
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
  load: number[];
  peerWav?: PeerResult;
  peerSamples?: PeerResult;
  sameTokens?: boolean;
}

async function transcribe(name: string, ref: string): Promise<Row> {
  const path = speak(ref, wavDir(voice), name, voice);
  const file = await readFile(path);
  const load = [load1()];
  const t0 = performance.now();
  const r = (await audio.transcriptions.create({ file, response_format: 'verbose_json' })) as TranscriptionVerbose;
  const computeS = (performance.now() - t0) / 1000;
  load.push(load1());
  let monotonic = true;
  let last = 0;
  for (const s of r.segments) {
    if (!(s.start >= last && s.end >= s.start && s.end <= r.duration + 0.5)) monotonic = false;
    last = s.start;
  }
  const row: Row = { name, ref, hyp: r.text.trim(), wer: wordErrorRate(ref, r.text), seconds: r.duration, computeS, monotonic, segments: r.segments.length, load };
  console.log(`${name}: WER ${pct(row.wer)} ${row.seconds.toFixed(1)} s audio in ${computeS.toFixed(1)} s | ${row.hyp}`);
  if (peer) {
    const peerWav = await peer.ask({ wav: path });
    row.peerWav = peerWav;
    load.push(load1());
    // the peer on Hearth's own decoded samples: tokens and log-mel comparable one for one
    const { samples } = await decodeAudio(file);
    const base = `${wavDir(voice)}/${name}`;
    writeFileSync(`${base}.f32`, samples);
    const mel = logMelSpectrogram(samples, info.config.nMels);
    writeFileSync(`${base}.mel.f32`, melWindow(mel, 0));
    const peerSamples = await peer.ask({ samples: `${base}.f32`, mel: `${base}.mel.f32`, frames: Math.min(mel.contentFrames, WINDOW_FRAMES) });
    row.peerSamples = peerSamples;
    const ours = r.segments.flatMap((s) => s.tokens);
    row.sameTokens = JSON.stringify(ours) === JSON.stringify(peerSamples.segments.flatMap((s) => s.tokens));
    console.log(`  faster-whisper: WER ${pct(wordErrorRate(ref, peerWav.text))} in ${peerWav.seconds.toFixed(1)} s | ${peerWav.text.trim()}`);
    console.log(`  faster-whisper on Hearth's samples: tokens ${row.sameTokens ? 'equal to ours' : 'DIFFER'}, log-mel max |diff| ${peerSamples.mel_max_abs_diff?.toExponential(1)} | ${peerSamples.text.trim()}`);
  }
  return row;
}

const rows: Row[] = [];
let passage: Row | null = null;
const repeat = Number(v.repeat);
const mem: { i: number; buffers: number; bytes: number; rss: number; s: number }[] = [];
let unloaded: { buffers: number; bytes: number; rss: number } | null = null;
let memBase: { buffers: number; bytes: number; rss: number } | null = null;
let memAudioS = 0;

function report(): string[] {
  const all = passage ? [...rows, passage] : rows;
  const mean = rows.reduce((a, r) => a + r.wer, 0) / Math.max(1, rows.length);
  const worst = Math.max(0, ...rows.map((r) => r.wer));
  const sum = (f: (r: Row) => number) => all.reduce((a, r) => a + f(r), 0);
  const audioS = sum((r) => r.seconds);
  const loads = all.flatMap((r) => r.load);
  const mib = (b: number) => (b / 2 ** 20).toFixed(1);
  const md = [
    `# Whisper tiny.en: Hearth against faster-whisper (${new Date().toISOString().slice(0, 10)})`,
    '',
    `Machine: ${ctx.adapterInfo.description || ctx.adapterInfo.vendor} (${ctx.adapterInfo.architecture}), ${cpus().length} CPU cores (${cpus()[0]?.model}) shared with other engineers' work; Node ${process.version}, Dawn (\`webgpu\` package).`,
    `Model: ${model} (${info.format}, ${mib(info.memoryBytes)} MiB on the GPU, loaded in ${(loadMs / 1000).toFixed(1)} s). Audio: espeak-ng -v ${voice.voice} -s ${voice.wpm} (test/helpers/speech.ts), 22.05 kHz WAV.`,
    peer
      ? `Peer: faster-whisper on the same model folder (${peer.versions}; CPU, compute_type float32, cpu_threads=${threads}, num_workers=1), greedy (beam_size 1), temperature 0 only, timestamps on, no VAD, no no-speech skipping, previous text as prompt; run in the same process tree, clip by clip alternating with Hearth.`
      : 'Peer: faster-whisper not run (no --faster-whisper).',
    `Command: \`node --import tsx --import ./scripts/register-raw.mjs bench/whisper.ts ${process.argv.slice(2).join(' ')}\`.`,
    '',
  ];
  if (screens.length > 0) {
    md.push(
      '## Voice choice (faster-whisper alone, every sentence)',
      '',
      `| voice@wpm | mean WER | worst | ${SENTENCES.map((_, i) => `s${i + 1}`).join(' | ')} |`,
      `|---|---:|---:|${SENTENCES.map(() => '---:').join('|')}|`,
      ...screens.map((s) => `| ${s.voice} | ${pct(s.mean)} | ${pct(s.worst)} | ${s.wers.map(pct).join(' | ')} |`),
      '',
    );
  }
  if (all.length > 0) md.push(
    '## Accuracy (word error rate after English normalisation)',
    '',
    '| clip | audio s | Hearth WER | timestamps monotonic | segments | Hearth transcript | faster-whisper WER (WAV) | faster-whisper transcript (WAV) | same tokens on Hearth\'s samples | log-mel max abs diff |',
    '|---|---:|---:|---|---:|---|---:|---|---|---:|',
    ...all.map(
      (r) =>
        `| ${r.name} | ${r.seconds.toFixed(1)} | ${pct(r.wer)} | ${r.monotonic ? 'yes' : 'NO'} | ${r.segments} | ${cell(r.hyp)} | ${r.peerWav ? pct(wordErrorRate(r.ref, r.peerWav.text)) : '-'} | ${r.peerWav ? cell(r.peerWav.text.trim()) : '-'} | ${r.sameTokens === undefined ? '-' : r.sameTokens ? 'yes' : 'no'} | ${r.peerSamples?.mel_max_abs_diff?.toExponential(1) ?? '-'} |`,
    ),
    '',
    `Short sentences (${rows.length}): Hearth mean WER ${pct(mean)}, worst ${pct(worst)} (acceptance: mean <= 15%, none above 35%).` +
      (peer ? ` faster-whisper on the WAVs: mean ${pct(rows.reduce((a, r) => a + wordErrorRate(r.ref, r.peerWav!.text), 0) / Math.max(1, rows.length))}, worst ${pct(Math.max(0, ...rows.map((r) => wordErrorRate(r.ref, r.peerWav!.text))))}.` : ''),
    passage ? `Passage: ${pct(passage.wer)} over ${passage.seconds.toFixed(1)} s, ${passage.segments} segments (acceptance: <= 20%).` : 'Passage: not run yet.',
    '',
    '## Speed (real-time factor: audio seconds per second of compute, file decoding and mel included)',
    '',
    `Hearth: ${(audioS / sum((r) => r.computeS)).toFixed(3)} (${audioS.toFixed(1)} s of audio in ${sum((r) => r.computeS).toFixed(1)} s).`,
    peer ? `faster-whisper (cpu_threads=${threads}): ${(audioS / sum((r) => r.peerWav!.seconds)).toFixed(3)} (${sum((r) => r.peerWav!.seconds).toFixed(1)} s), on the WAV files, alternating with Hearth clip by clip.` : '',
    `1-minute load average around the clips: min ${Math.min(...loads).toFixed(1)}, mean ${(loads.reduce((a, b) => a + b, 0) / Math.max(1, loads.length)).toFixed(1)}, max ${Math.max(...loads).toFixed(1)} (${cpus().length} cores).`,
    '',
    '| clip | audio s | Hearth s | faster-whisper s | load average (before, after Hearth, after faster-whisper) |',
    '|---|---:|---:|---:|---|',
    ...all.map((r) => `| ${r.name} | ${r.seconds.toFixed(1)} | ${r.computeS.toFixed(1)} | ${r.peerWav?.seconds.toFixed(1) ?? '-'} | ${r.load.map((x) => x.toFixed(1)).join(', ')} |`),
    '',
  );
  md.push(
    `## GPU memory and RSS over ${repeat} transcriptions in a row`,
    '',
    `GPU bytes counted from createBuffer/destroy (test/helpers/gpu-buffers.ts). Before loading: RSS ${mib(rss0)} MiB. Loaded: ${loaded.buffers} buffers, ${mib(loaded.bytes)} MiB, RSS ${mib(loaded.rss)} MiB.`,
    memBase ? `Before the ${repeat} runs (${rows.length > 0 ? 'after the accuracy runs' : 'right after loading'}): ${memBase.buffers} buffers, ${memBase.bytes} bytes, RSS ${mib(memBase.rss)} MiB. Each run transcribes sentence-1 (${voiceName(voice)}, ${memAudioS.toFixed(1)} s).` : 'Not run yet.',
    '',
    '| after run | live buffers | GPU bytes | GPU bytes - before | RSS MiB | run s |',
    '|---:|---:|---:|---:|---:|---:|',
    ...mem.map((m) => `| ${m.i} | ${m.buffers} | ${m.bytes} | ${m.bytes - memBase!.bytes} | ${mib(m.rss)} | ${m.s.toFixed(1)} |`),
    '',
    unloaded ? `After unload: ${unloaded.buffers} buffers, ${unloaded.bytes} bytes live on the device, RSS ${mib(unloaded.rss)} MiB.` : '',
    '',
  );
  return md;
}
const write = () => {
  if (v.out) writeFileSync(v.out, report().join('\n'));
};

const only = v['memory-only'] ? 0 : v.only === undefined ? SENTENCES.length : Number(v.only);
for (let i = 0; i < only; i++) {
  rows.push(await transcribe(`sentence-${i + 1}`, SENTENCES[i]!));
  write();
}
if (!v['memory-only']) passage = await transcribe('passage', PASSAGE);
write();
peer?.close();

// memory over repeated transcriptions of the first sentence
memBase = { buffers: buffers.live(), bytes: buffers.bytes(), rss: process.memoryUsage().rss };
const file = await readFile(speak(SENTENCES[0]!, wavDir(voice), 'sentence-1', voice));
for (let i = 0; i < repeat; i++) {
  t = performance.now();
  memAudioS = ((await audio.transcriptions.create({ file, response_format: 'verbose_json' })) as TranscriptionVerbose).duration;
  mem.push({ i: i + 1, buffers: buffers.live(), bytes: buffers.bytes(), rss: process.memoryUsage().rss, s: (performance.now() - t) / 1000 });
  console.log(`run ${i + 1}: ${buffers.live()} buffers, ${buffers.bytes()} bytes, RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(1)} MiB`);
  write();
}
await audio.unload();
unloaded = { buffers: buffers.live(), bytes: buffers.bytes(), rss: process.memoryUsage().rss };
write();
console.log(report().join('\n'));
ctx.destroy();
process.exit(0);
