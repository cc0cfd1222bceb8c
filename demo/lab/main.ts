/**
 * The kernel lab page: find the adapter, then on Run measure its roofline and run the chosen
 * kernels one by one (src/lab/suite.ts), filling the table, the chart and the export as each ends.
 */
import '../shared/hearth.css';
import './lab.css';
import { mountSiteHeader } from '../shared/header.js';
import { createGpuContext, isCpuAdapter, type GpuContext } from '../../src/gpu/device.js';
import type { Roofline } from '../../src/kernels/roofline.js';
import { adapterReport, buildReport, type AdapterReport, type LabReport } from '../../src/lab/report.js';
import { measureLabRoofline, ridgePoint } from '../../src/lab/roofline.js';
import { runSuite, type SuiteProgress } from '../../src/lab/suite.js';
import type { LabCase, LabRow } from '../../src/lab/types.js';
import { CustomForm } from './custom-form.js';
import { renderDevice } from './device-panel.js';
import { byId, h } from '../shared/dom.js';
import { ExportLink } from './export-link.js';
import { FAMILY_NAMES } from './families.js';
import { duration, sig3 } from './format.js';
import { ResultsTable } from './results-table.js';
import { RooflineChart } from './roofline-chart.js';
import { RunForm } from './run-form.js';

type LabState = 'starting' | 'ready' | 'running' | 'done' | 'no-webgpu' | 'error';

const headerSlot = mountSiteHeader(byId('site-header'), 'lab');
const problem = byId('gpu-problem');
const runButton = byId<HTMLButtonElement>('run');
const stopButton = byId<HTMLButtonElement>('stop');
const customRun = byId<HTMLButtonElement>('custom-run');
const progressBox = byId('progress');
const progressFill = byId('progress-fill');
const progressText = byId('progress-text');
const table = new ResultsTable();
const chart = new RooflineChart(byId<HTMLCanvasElement>('chart'));
const exportLink = new ExportLink(byId<HTMLAnchorElement>('export'));
const custom = new CustomForm();

let ctx: GpuContext | null = null;
let adapter: AdapterReport | null = null;
let roofline: Roofline | null = null;
let rows: LabRow[] = [];
const runForm = new RunForm();
let controller: AbortController | null = null;

const setState = (s: LabState): void => void (document.body.dataset.labState = s);

function showProblem(title: string, ...text: (string | Node)[]): void {
  problem.replaceChildren(h('strong', {}, title), h('p', {}, ...text));
  problem.hidden = false;
}

window.addEventListener('unhandledrejection', (e) => showProblem('Something went wrong', e.reason instanceof Error ? e.reason.message : String(e.reason)));

function report(): LabReport {
  return buildReport({
    date: new Date().toISOString(),
    userAgent: navigator.userAgent,
    adapter: adapter!,
    roofline,
    settings: { ...runForm.selection },
    rows,
  });
}

function renderRooflineStats(r: Roofline): void {
  const stat = (label: string, value: string) => h('div', { class: 'stat' }, h('span', { class: 'stat-value' }, value), h('span', { class: 'stat-label' }, label));
  byId('roofline-stats').replaceChildren(
    stat('read bandwidth', `${sig3(r.readGBps)} GB/s`),
    stat('FMA throughput', `${sig3(r.fmaGflops)} GFLOP/s`),
    stat('ridge point', `${sig3(ridgePoint(r))} flop/B`),
    stat('timing', r.timing === 'timestamp' ? 'GPU timestamps' : 'wall clock'),
  );
}

function caseName(c: LabCase): string {
  const extra = ['format' in c ? c.format : '', 'variant' in c ? c.variant : ''].filter(Boolean).join(' ');
  return `${FAMILY_NAMES[c.family]}${extra ? ` ${extra}` : ''} · ${c.label}`;
}

function showProgress(p: SuiteProgress, started: number): void {
  progressFill.style.width = `${(100 * p.done) / Math.max(1, p.total)}%`;
  progressText.textContent = p.next ? `${p.done + 1} of ${p.total} · ${caseName(p.next)} · ${duration(performance.now() - started)}` : '';
}

function setBusy(busy: boolean): void {
  runButton.hidden = busy;
  stopButton.hidden = !busy;
  stopButton.disabled = false;
  stopButton.textContent = 'Stop';
  runForm.setBusy(busy);
  custom.setBusy(busy);
  runButton.disabled = customRun.disabled = busy || !ctx;
}

/** Run `cases`, after measuring the roofline once per page; `append` keeps earlier rows. */
async function run(cases: LabCase[], budgetMs: number, append: boolean): Promise<void> {
  if (!ctx || controller) return;
  const gpu = ctx;
  controller = new AbortController();
  const { signal } = controller;
  setBusy(true);
  setState('running');
  progressBox.hidden = false;
  progressBox.classList.remove('progress-done');
  const started = performance.now();
  if (!append) {
    rows = [];
    table.clear();
    chart.clear();
  }
  try {
    if (!roofline) {
      progressFill.style.width = '0%';
      progressText.textContent = "Measuring this device's roofline (streaming read, FMA)…";
      roofline = await measureLabRoofline(gpu);
      renderRooflineStats(roofline);
      chart.setRoofline(roofline);
      byId('chart-empty').hidden = true;
      delete byId('chart-box').dataset.empty;
    }
    const offset = rows.length;
    await runSuite(gpu, cases, {
      signal,
      budgetMs,
      onProgress: (p) => showProgress(p, started),
      onRow: (row, i) => {
        rows.push(row);
        table.add(row, offset + i, roofline);
        chart.add(row, offset + i);
        exportLink.update(report());
      },
    });
    const ran = rows.length - offset;
    const failed = rows.slice(offset).filter((r) => !r.pass).length;
    const verdict = failed ? `${failed} failed.` : 'every check passed.';
    progressText.textContent = signal.aborted
      ? `Stopped after ${ran} of ${cases.length} kernels (${duration(performance.now() - started)}); ${verdict}`
      : `Done: ${ran} kernel${ran === 1 ? '' : 's'} in ${duration(performance.now() - started)}; ${verdict}`;
    progressFill.style.width = '100%';
    progressBox.classList.add('progress-done');
    if (gpu.lost && gpu.lost.reason !== 'destroyed') showProblem('The GPU device was lost', `${gpu.lost.message} Reload the page to start again.`);
    setState('done');
  } catch (e) {
    showProblem('The run failed', e instanceof Error ? e.message : String(e));
    setState('error');
  } finally {
    controller = null;
    setBusy(false);
  }
}

runButton.form!.addEventListener('submit', (e) => {
  e.preventDefault();
  void run(runForm.cases().cases, runForm.selection.budgetMs, false);
});

custom.form.addEventListener('submit', (e) => {
  e.preventDefault();
  const cases = custom.cases();
  if (cases) void run(cases, runForm.selection.budgetMs, true);
});

stopButton.addEventListener('click', () => {
  controller?.abort();
  stopButton.disabled = true;
  stopButton.textContent = 'Stopping after this kernel…';
});

async function start(): Promise<void> {
  if (!navigator.gpu) {
    byId('device').replaceChildren(h('p', { class: 'muted' }, 'No WebGPU in this browser.'));
    showProblem(
      'This browser has no WebGPU',
      'The kernel lab runs its kernels with WebGPU. Use a recent Chrome or Edge (113+), Safari 26+, or Firefox 141+ on Windows; on Linux, start Chrome with ',
      h('code', { class: 'nowrap' }, '--enable-unsafe-webgpu'),
      '.',
    );
    setState('no-webgpu');
    return;
  }
  try {
    ctx = await createGpuContext(navigator.gpu);
  } catch (e) {
    byId('device').replaceChildren(h('p', { class: 'muted' }, 'No usable WebGPU adapter.'));
    showProblem('WebGPU is here, but no usable GPU adapter', e instanceof Error ? e.message : String(e));
    setState('no-webgpu');
    return;
  }
  // createGpuContext keeps its adapter to itself; a second one lists every feature and limit
  const second = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' }).catch(() => null);
  adapter = adapterReport(ctx, second);
  const cpu = isCpuAdapter(ctx);
  renderDevice(byId('device'), adapter, cpu);
  headerSlot.append(h('span', { class: 'badge adapter-chip', title: 'WebGPU adapter' }, [adapter.vendor, adapter.architecture].filter(Boolean).join(' · ') || 'WebGPU'));
  runForm.setBudget(cpu ? 50 : 200);
  setBusy(false);
  setState('ready');
  // for tests and the console: the chart instance and the report as it stands
  (window as unknown as { hearthLab: unknown }).hearthLab = { chart: chart.chart, report };
}

void start();
