/**
 * Reports from one benchmark run's JSON: Markdown (the README's table comes from here) and HTML
 * with plots (chart.js from node_modules, by relative path: the tables work without it).
 *
 *   node --import tsx bench/report.ts bench/results/<run>.json   (rewrites its .md and .html)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { BenchRun } from './run.js';
import type { ModelComparison, OpComparison } from './browser/run-browser.js';
import type { Spread } from './lib/stats.js';

const f = (v: number | null | undefined, d = 2): string => (v === null || v === undefined || !Number.isFinite(v) ? '–' : v >= 1000 ? v.toFixed(0) : v.toFixed(d));
/** Three significant digits, for figures from 0.001 (a CPU driver) to thousands (a GPU). */
const sig = (v: number | null | undefined): string => {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : a >= 0.01 ? v.toFixed(3) : v.toPrecision(2);
};
const pct = (v: number | null | undefined): string => (v === null || v === undefined || !Number.isFinite(v) ? '–' : `${(100 * v).toFixed(v < 0.1 ? 1 : 0)}%`);
/** Median with its range over the repeats. */
const med = (s: Spread | null | undefined): string => (!s || !Number.isFinite(s.median) ? '–' : s.n > 1 ? `${sig(s.median)} (${sig(s.min)}–${sig(s.max)})` : sig(s.median));
const times = (v: number | null | undefined): string => (v === null || v === undefined || !Number.isFinite(v) ? '–' : `**${v >= 10 ? v.toFixed(0) : v.toFixed(2)}×**`);
const esc = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** Shape and, for a forced kernel family, which one. */
function opShape(c: OpComparison): string {
  if (c.op.startsWith('attention')) return `${c.name}, KV ${c.kvLen}`;
  return `${c.name} ${c.n}×${c.k}${c.op === 'gemm' ? `, M=${c.m}` : ''}`;
}

function opRows(ops: OpComparison[]): string[][] {
  return ops.map((c) => {
    const o = 'wallMs' in c.ours ? c.ours : null;
    const t = 'wallMs' in c.theirs ? c.theirs : null;
    const err = ('error' in c.theirs ? c.theirs.error : '').replace(/^(Error|TypeError): /, '');
    const theirsCell = t ? med(t.wallMs) : esc(/^not run/.test(err) ? err : `not run: ${err.slice(0, 90)}`);
    const roof = o ? (c.op === 'gemv' || c.op === 'attention-decode' ? `${pct(o.ofRead)} read` : `${pct(o.ofFma)} FMA`) : '–';
    return [
      c.op,
      c.model,
      opShape(c),
      c.variant ? `${c.format} (${c.variant} kernels)` : c.format,
      o ? med(o.wallMs) : `error: ${esc('error' in c.ours ? c.ours.error : '')}`,
      o ? sig(o.gpuMs?.median) : '–',
      `${c.peer.op} (${c.peer.build})`,
      theirsCell,
      t ? sig(t.gpuMs?.median) : '–',
      times(c.speedup.wall),
      times(c.speedup.gpu),
      roof,
    ];
  });
}

function modelRows(ms: ModelComparison[]): string[][] {
  return ms.map((m) => {
    const o = 'decodeTokPerS' in m.ours ? m.ours : null;
    const w = 'decodeTokPerS' in m.wllama ? m.wllama : null;
    const werr = 'error' in m.wllama ? `error: ${esc(m.wllama.error.slice(0, 80))}` : '–';
    return [
      m.model,
      m.format,
      `${m.promptTokens}${w && w.promptTokens !== m.promptTokens ? ` (wllama ${w.promptTokens})` : ''} + ${m.decodeTokens}`,
      o ? med(o.prefillTokPerS) : `error: ${esc('error' in m.ours ? m.ours.error.slice(0, 80) : '')}`,
      w ? med(w.prefillTokPerS) : werr,
      times(m.speedup.prefill),
      o ? med(o.decodeTokPerS) : '–',
      w ? med(w.decodeTokPerS) : '–',
      times(m.speedup.decode),
      w ? `${w.backend}${w.backend === 'cpu' ? `, ${w.threads} thread${w.threads === 1 ? '' : 's'}` : ''}` : '–',
      o ? pct(o.ofReadRoofline.median) : '–',
      o ? String(o.dispatchesPerToken) : '–',
    ];
  });
}

const geomean = (xs: number[]): number => Math.exp(xs.reduce((s, x) => s + Math.log(x), 0) / xs.length);

/** One line per kind of comparison: how many cases, how often Hearth is faster, by how much. */
function summaryRows(run: BenchRun): string[][] {
  const b = run.browser && 'env' in run.browser ? run.browser : null;
  if (!b) return [];
  const rows: string[][] = [];
  const line = (label: string, xs: number[]) => {
    if (!xs.length) return;
    rows.push([label, String(xs.length), `${xs.filter((x) => x > 1).length} of ${xs.length}`, times(geomean(xs)), xs.length > 1 ? `${sig(Math.min(...xs))}–${sig(Math.max(...xs))}` : "–"]);
  };
  for (const build of new Set(b.ops.map((c) => c.peer.build))) {
    const ops = b.ops.filter((c) => c.peer.build === build);
    for (const [op, label] of [
      ['gemv', 'GEMV (decode matmul)'],
      ['gemm', 'GEMM (prefill matmul)'],
      ['attention-decode', 'attention, decode'],
      ['attention-prefill', 'attention, prefill'],
    ] as const) {
      const byFormat = new Map<string, number[]>();
      for (const c of ops.filter((x) => x.op === op && x.speedup.wall !== null)) {
        const key = `${c.peer.op}${c.variant ? `|${c.variant}` : ''}`;
        byFormat.set(key, [...(byFormat.get(key) ?? []), c.speedup.wall!]);
      }
      for (const [key, xs] of byFormat) {
        const [peerOp, variant] = key.split('|');
        line(`${label}${variant ? `, our ${variant} kernels,` : ''} vs ORT ${peerOp} (${build}), wall`, xs);
      }
    }
  }
  const ms = b.models.filter((m) => m.speedup.decode !== null);
  for (const m of ms) {
    const backend = 'backend' in m.wllama ? m.wllama.backend : '?';
    line(`${m.model} ${m.format} vs wllama (${backend}): prefill tok/s`, [m.speedup.prefill!]);
    line(`${m.model} ${m.format} vs wllama (${backend}): decode tok/s`, [m.speedup.decode!]);
  }
  return rows;
}

/** Notes the figures need to be read right, derived from the run itself. */
function notes(run: BenchRun): string[] {
  const n: string[] = [];
  const b = run.browser && 'env' in run.browser ? run.browser : null;
  const cpu = /swiftshader|llvmpipe|lavapipe/i.test(JSON.stringify(run.node?.adapter ?? b?.env.adapter ?? {}));
  if (cpu) {
    n.push(
      'The adapter is a CPU implementation of WebGPU (SwiftShader): every kernel runs on the CPU cores, barriers and workgroup memory are expensive, and absolute rates are 2–3 orders of magnitude below a GPU. Ratios measured in the same run are what carry over, and even those favour kernels written for CPU drivers (Hearth picks its barrier-free “register” matmul variant on CPU adapters; ONNX Runtime has no such path). Rows marked “tiled kernels” run Hearth’s GPU-style matmuls (workgroup reductions, barriers) against the same ORT ops: the like-for-like comparison of GPU kernels on this adapter.',
    );
  }
  const over = (run.node?.kernels?.matmul ?? []).some((r) => r.gemv.ofRead.median > 1);
  if (cpu && over) {
    n.push('Fractions of the read roofline above 100% are real: a matrix of a few MB stays in the CPU’s caches between timed runs on a CPU adapter, while the roofline streams tens of MB from memory. The lm_head rows (57–113 MB) are the honest bandwidth figures.');
  }
  const la = run.machine.loadavg;
  if (la.start[0]! > run.machine.cores || (la.end[0] ?? 0) > run.machine.cores) {
    n.push(`The machine was shared while this ran (load average ${la.start[0]!.toFixed(1)} at the start, ${la.end[0]?.toFixed(1)} at the end, on ${run.machine.cores} cores): absolute figures are noisy; ours and theirs were alternated so that ratios carry the same drift.`);
  }
  if (b) {
    if (!b.env.features.shaderF16) {
      n.push('The adapter has no `shader-f16`: ONNX Runtime’s f16 MatMul cannot run (it needs f16 arithmetic), while Hearth’s f16 weights are unpacked to f32 in the shader and run anyway. llama.cpp’s WebGPU backend also requires `shader-f16`, so wllama registered no WebGPU device and ran on its CPU backend (wasm SIMD) — see the log lines in the JSON (`browser.models[].wllama.evidence`).');
    }
    const backends = new Set(b.models.map((m) => ('backend' in m.wllama ? m.wllama.backend : null)).filter(Boolean));
    if (backends.size) n.push(`wllama backend used: ${[...backends].join(', ')} (from llama.cpp’s own log: where it put the model buffers).`);
    if (b.requests.outside.length) n.push(`Requests outside 127.0.0.1 were made and refused: ${b.requests.outside.slice(0, 5).join(', ')}`);
    else n.push('No request left 127.0.0.1 (the bench page refuses any other origin and lists what it refused).');
  }
  return n;
}

export function renderMarkdown(run: BenchRun): string {
  const out: string[] = [];
  const b = run.browser && 'env' in run.browser ? run.browser : null;
  const a = run.node?.adapter;
  out.push(`# Hearth benchmark — ${run.label} (${run.mode})`);
  out.push('');
  out.push(`- date: ${run.date}${run.git ? `, commit ${run.git.commit.slice(0, 10)}${run.git.dirty ? ' (with uncommitted changes)' : ''}` : ''}; ${run.seconds.total.toFixed(0)} s in all (Node ${run.seconds.node.toFixed(0)} s, Chromium ${run.seconds.browser.toFixed(0)} s)`);
  out.push(`- machine: ${run.machine.cpu}, ${run.machine.cores} cores, ${run.machine.memoryGB} GB, ${run.machine.platform}, Node ${run.machine.node}; load average ${run.machine.loadavg.start.map((v) => v.toFixed(1)).join('/')} → ${run.machine.loadavg.end.map((v) => v.toFixed(1)).join('/')}`);
  if (a) out.push(`- Node (Dawn, \`webgpu\` package): ${a.vendor} ${a.architecture} ${a.device} (${a.description}); features: ${Object.entries(run.node!.features).filter(([, v]) => v).map(([k]) => k).join(', ') || 'none'}`);
  if (b) {
    out.push(`- Chromium ${b.chromium}: ${b.env.adapter.vendor} ${b.env.adapter.architecture} ${b.env.adapter.description}; features: ${Object.entries(b.env.features).filter(([, v]) => v).map(([k]) => k).join(', ') || 'none'}; cross-origin isolated: ${b.env.crossOriginIsolated}`);
    for (const o of b.ort) out.push(`- ONNX Runtime Web ${o.version}, build \`${o.build}\` (${o.file}); its device's features: ${o.deviceFeatures.join(', ') || 'none'}`);
    const wl = b.models.find((m) => 'backend' in m.wllama)?.wllama;
    if (wl && 'backend' in wl) out.push(`- wllama (llama.cpp ${wl.version}): backend **${wl.backend}**, ${wl.threads} thread(s)`);
  }
  if (run.browser && 'error' in run.browser) out.push(`- Chromium section failed: ${esc(run.browser.error.split('\n')[0]!)}`);
  if (run.node?.error) out.push(`- Node section failed: ${esc(run.node.error.split('\n')[0]!)}`);
  out.push('');
  out.push('Figures are medians over the repeats, with the range in parentheses. **×** is a speed ratio, Hearth over the peer: above 1, Hearth is faster. Op times are per run: wall clock over back-to-back runs (what a caller sees) and GPU time from timestamp queries on the compute passes (what the kernels cost; the peer’s passes are timed from outside, on its own device).');
  out.push('');
  const ns = notes(run);
  if (ns.length) {
    out.push(...ns.map((s) => `> ${s}`).flatMap((s) => [s, '>']).slice(0, -1));
    out.push('');
  }

  const summary = summaryRows(run);
  if (summary.length) {
    out.push('## Summary');
    out.push('');
    out.push(table(['comparison', 'cases', 'Hearth faster in', 'geometric mean ×', 'range ×'], summary));
    out.push('');
  }

  out.push('## Roofline');
  out.push('');
  out.push('Fractions of the roofline below are taken against the best of the repeats (what the adapter can do); the median and range show how busy the machine was.');
  out.push('');
  const roofRows: string[][] = [];
  const best = (s: Spread) => `**${sig(s.max)}**; ${med(s)}`;
  if (run.node) roofRows.push(['Node (Dawn)', best(run.node.roofline.readGBps), best(run.node.roofline.fmaGflops), run.node.roofline.timing]);
  if (b) roofRows.push(['Chromium', best(b.roofline.readGBps), best(b.roofline.fmaGflops), b.roofline.timing]);
  out.push(table(['where', 'read GB/s: best; median (range)', 'FMA GFLOP/s: best; median (range)', 'timing'], roofRows));
  out.push('');

  if (b) {
    out.push('## Ops: Hearth vs ONNX Runtime Web (what transformers.js runs), in Chromium');
    out.push('');
    out.push('Hearth’s side includes what ORT’s op does: the matmul alone; for attention, appending the step’s K/V to the cache and attending (ORT: GroupQueryAttention with past and present K/V, no rotary). ORT pairs: f32 → MatMul f32, f16 → MatMul f16, q8_0 → MatMulNBits bits=8, q4_0 → MatMulNBits bits=4 block 32 (f32 activations and scales: transformers.js’s q4). GEMV/decode rows are rated against the read roofline, GEMM/prefill against FMA (Hearth’s GPU time).');
    out.push('');
    out.push(table(['op', 'model', 'shape', 'Hearth format', 'Hearth ms', 'GPU ms', 'ORT op', 'ORT ms', 'GPU ms', '× wall', '× GPU', 'Hearth of roofline'], opRows(b.ops)));
    out.push('');
    const slow = b.ops.filter((c) => c.speedup.wall !== null && c.speedup.wall < 1);
    if (slow.length) out.push(`Hearth slower on ${slow.length} of ${b.ops.filter((c) => c.speedup.wall !== null).length} compared ops: ${slow.map((c) => `${c.op} ${opShape(c)} ${c.format}${c.variant ? ` (${c.variant} kernels)` : ''} (${times(c.speedup.wall)})`).join('; ')}.`);
    else if (b.ops.some((c) => c.speedup.wall !== null)) out.push('Hearth is faster on every op that both sides ran.');
    out.push('');

    out.push('## Models: Hearth vs wllama (llama.cpp in wasm) on the same GGUF, in Chromium');
    out.push('');
    out.push('Same prompt text (our tokenizer counts it; wllama’s own count is shown when it differs), greedy, end-of-sequence ignored. Hearth runs on the page’s WebGPU device; wllama in its worker with the backend shown. Decode “of read” is Hearth’s bytes read per token (weights + f32 KV) over its time per token, as a fraction of the measured read bandwidth.');
    out.push('');
    out.push(table(['model', 'format', 'tokens (prompt + decode)', 'Hearth prefill tok/s', 'wllama prefill tok/s', '×', 'Hearth decode tok/s', 'wllama decode tok/s', '×', 'wllama backend', 'Hearth decode of read', 'dispatches/token'], modelRows(b.models)));
    out.push('');
    const profiled = b.models.filter((m) => 'decodeProfile' in m.ours && m.ours.decodeProfile);
    if (profiled.length) {
      out.push('Where Hearth’s decode time goes in the page (GPU timestamps of one decode step, by kernel family summed over layers):');
      out.push('');
      out.push(
        table(
          ['model', 'format', 'decode step GPU ms', 'launches (forward)', 'top kernels'],
          profiled.map((m) => {
            const p = (m.ours as { decodeProfile: { ms: number; families: { family: string; share: number; launches: number }[] } }).decodeProfile;
            return [m.model, m.format, sig(p.ms), String(p.families.reduce((s, k) => s + k.launches, 0)), p.families.slice(0, 6).map((k) => `${k.family} ${pct(k.share)}`).join(', ')];
          }),
        ),
      );
      out.push('');
    }
  }

  const k = run.node?.kernels;
  if (k) {
    out.push(`## Node (Dawn): our kernels at model shapes (${k.timing}, variant ${k.plan.variant})`);
    out.push('');
    out.push(
      table(
        ['model', 'matrix', 'format', 'MB', 'GEMV ms', 'GB/s', 'of read', `GEMM ms (M=${k.plan.m})`, 'GFLOP/s', 'of FMA'],
        k.matmul.map((r) => [r.model, `${r.name} ${r.n}×${r.k}`, r.format, f(r.weightBytes / 1e6, 1), med(r.gemv.ms), sig(r.gemv.GBps.median), pct(r.gemv.ofRead.median), r.gemm ? med(r.gemm.ms) : '–', r.gemm ? sig(r.gemm.gflops.median) : '–', r.gemm ? pct(r.gemm.ofFma.median) : '–']),
      ),
    );
    out.push('');
    if (k.attention.length) {
      out.push(
        table(
          ['model', 'attention (+ KV append)', 'heads', 'KV len', 'ms', 'GB/s', 'of read', 'GFLOP/s', 'of FMA'],
          k.attention.map((r) => [r.model, r.mode, `${r.heads}/${r.kvHeads}×${r.headDim}`, String(r.kvLen), med(r.ms), sig(r.GBps.median), pct(r.ofRead.median), sig(r.gflops.median), pct(r.ofFma.median)]),
        ),
      );
      out.push('');
    }
  }
  const nm = run.node?.models;
  if (nm) {
    out.push(`## Node (Dawn): whole models, prompt ${nm.plan.run.prompt} + decode ${nm.plan.run.decode} tokens, ${nm.plan.run.repeats} repeats`);
    out.push('');
    out.push(
      table(
        ['model', 'format', 'weights MB', 'prefill tok/s', 'decode tok/s', 'ms/token', 'bytes/token MB', 'decode of read', 'dispatches/token'],
        nm.results.map((r) => [r.model, r.format, f(r.weightBytes / 1e6, 1), med(r.prefillTokPerS), med(r.decodeTokPerS), sig(r.decodeMsPerToken.median), f(r.bytesPerToken.total / 1e6, 1), pct(r.ofReadRoofline.median), String(r.dispatchesPerToken)]),
      ),
    );
    out.push('');
    const prof = nm.results.filter((r) => r.profile);
    if (prof.length) {
      out.push('### Where the GPU time goes (timestamps per kernel, summed over layers)');
      out.push('');
      out.push(
        table(
          ['model', 'format', 'decode step GPU ms', 'decode: top kernels', `prefill (${Math.min(nm.plan.run.prompt, 128)} tokens) GPU ms`, 'prefill: top kernels'],
          prof.map((r) => [
            r.model,
            r.format,
            sig(r.profile!.decodeMs),
            r.profile!.decode.slice(0, 5).map((x) => `${x.family} ${pct(x.share)}`).join(', '),
            sig(r.profile!.prefillMs),
            r.profile!.prefill.slice(0, 5).map((x) => `${x.family} ${pct(x.share)}`).join(', '),
          ]),
        ),
      );
      out.push('');
    }
  }
  return `${out.join('\n')}\n`;
}

const html = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function renderHtml(run: BenchRun): string {
  const b = run.browser && 'env' in run.browser ? run.browser : null;
  const opCases = (b?.ops ?? []).filter((c) => c.speedup.wall !== null);
  const models = (b?.models ?? []).filter((m) => m.speedup.decode !== null);
  const nodeModels = run.node?.models?.results ?? [];
  const data = {
    ops: {
      labels: opCases.map((c) => `${c.op} ${opShape(c)} ${c.format}`),
      ours: opCases.map((c) => ('wallMs' in c.ours ? c.ours.wallMs.median : null)),
      theirs: opCases.map((c) => ('wallMs' in c.theirs ? c.theirs.wallMs.median : null)),
    },
    models: {
      labels: models.map((m) => `${m.model} ${m.format}`),
      oursPrefill: models.map((m) => ('prefillTokPerS' in m.ours ? m.ours.prefillTokPerS.median : null)),
      theirsPrefill: models.map((m) => ('prefillTokPerS' in m.wllama ? m.wllama.prefillTokPerS.median : null)),
      oursDecode: models.map((m) => ('decodeTokPerS' in m.ours ? m.ours.decodeTokPerS.median : null)),
      theirsDecode: models.map((m) => ('decodeTokPerS' in m.wllama ? m.wllama.decodeTokPerS.median : null)),
    },
    node: { labels: nodeModels.map((r) => `${r.model} ${r.format}`), decode: nodeModels.map((r) => r.decodeTokPerS.median), ofRead: nodeModels.map((r) => 100 * r.ofReadRoofline.median) },
  };
  // the Markdown's tables, rendered minimally (no dependency): headings, tables, paragraphs, quotes
  const md = renderMarkdown(run).split('\n');
  const body: string[] = [];
  for (let i = 0; i < md.length; i++) {
    const line = md[i]!;
    const inline = (s: string) => html(s).replace(/\*\*(.+?)\*\*/g, '<b>$1</b>').replace(/`(.+?)`/g, '<code>$1</code>');
    if (line.startsWith('|')) {
      const rows: string[] = [];
      while (i < md.length && md[i]!.startsWith('|')) rows.push(md[i++]!);
      i--;
      const cells = (r: string) => r.slice(2, -2).split(/ (?<!\\)\| /).map((c) => c.replace(/\\\|/g, '|'));
      body.push(`<table><thead><tr>${cells(rows[0]!).map((c) => `<th>${inline(c)}</th>`).join('')}</tr></thead><tbody>`);
      for (const r of rows.slice(2)) body.push(`<tr>${cells(r).map((c) => `<td>${inline(c)}</td>`).join('')}</tr>`);
      body.push('</tbody></table>');
    } else if (line.startsWith('### ')) body.push(`<h3>${inline(line.slice(4))}</h3>`);
    else if (line.startsWith('## ')) {
      body.push(`<h2>${inline(line.slice(3))}</h2>`);
      if (line.includes('Ops:') && opCases.length) body.push('<div class="chart"><canvas id="ops"></canvas></div>');
      if (line.includes('Models:') && models.length) body.push('<div class="chart small"><canvas id="models"></canvas></div>');
      if (line.includes('whole models') && nodeModels.length) body.push('<div class="chart small"><canvas id="node"></canvas></div>');
    } else if (line.startsWith('# ')) body.push(`<h1>${inline(line.slice(2))}</h1>`);
    else if (line.startsWith('> ')) body.push(`<blockquote>${inline(line.slice(2))}</blockquote>`);
    else if (line.startsWith('- ')) body.push(`<li>${inline(line.slice(2))}</li>`);
    else if (line.trim() && line !== '>') body.push(`<p>${inline(line)}</p>`);
  }
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Hearth benchmark — ${html(run.label)} (${run.mode})</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1400px;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:12.5px}th,td{border:1px solid #ccc;padding:3px 6px;text-align:left}th{background:#f3f3f3}
blockquote{border-left:4px solid #e0c060;margin:.5em 0;padding:.2em .8em;background:#fffbe8}
.chart{height:${Math.max(300, 22 * opCases.length + 80)}px;max-width:1100px}.chart.small{height:360px}
code{background:#f3f3f3;padding:0 3px}
</style>
<script src="../../node_modules/chart.js/dist/chart.umd.min.js"></script>
</head><body>
${body.join('\n')}
<script>
const data = ${JSON.stringify(data)};
if (typeof Chart === 'undefined') {
  document.querySelectorAll('canvas').forEach((c) => c.replaceWith(Object.assign(document.createElement('p'), { textContent: 'Plots need chart.js from node_modules (open this file inside the repository after npm ci).' })));
} else {
  const bar = (id, labels, sets, opts = {}) => { const el = document.getElementById(id); if (el) new Chart(el, { type: 'bar', data: { labels, datasets: sets }, options: { maintainAspectRatio: false, ...opts } }); };
  bar('ops', data.ops.labels, [{ label: 'Hearth ms (wall)', data: data.ops.ours, backgroundColor: '#d9822b' }, { label: 'ONNX Runtime Web ms (wall)', data: data.ops.theirs, backgroundColor: '#4a78b5' }], { indexAxis: 'y', scales: { x: { type: 'logarithmic', title: { display: true, text: 'ms per run (log)' } } } });
  bar('models', data.models.labels, [
    { label: 'Hearth prefill tok/s', data: data.models.oursPrefill, backgroundColor: '#d9822b' }, { label: 'wllama prefill tok/s', data: data.models.theirsPrefill, backgroundColor: '#4a78b5' },
    { label: 'Hearth decode tok/s', data: data.models.oursDecode, backgroundColor: '#f0b27a' }, { label: 'wllama decode tok/s', data: data.models.theirsDecode, backgroundColor: '#9bb8de' }],
    { scales: { y: { type: 'logarithmic', title: { display: true, text: 'tokens/s (log)' } } } });
  bar('node', data.node.labels, [{ label: 'decode tok/s', data: data.node.decode, backgroundColor: '#d9822b', yAxisID: 'y' }, { label: 'decode, % of read roofline', data: data.node.ofRead, backgroundColor: '#7aa36b', yAxisID: 'y1' }],
    { scales: { y: { type: 'logarithmic', position: 'left' }, y1: { position: 'right', min: 0, max: 100, grid: { drawOnChartArea: false } } } });
}
</script>
</body></html>
`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node --import tsx bench/report.ts <run.json>');
    process.exit(1);
  }
  const run = JSON.parse(readFileSync(file, 'utf8')) as BenchRun;
  const base = file.replace(/\.json$/, '');
  writeFileSync(`${base}.md`, renderMarkdown(run));
  writeFileSync(`${base}.html`, renderHtml(run));
  console.log(`wrote ${base}.md and ${base}.html`);
}
