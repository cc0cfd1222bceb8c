import {
  Chart,
  Legend,
  LineController,
  LineElement,
  LogarithmicScale,
  PointElement,
  ScatterController,
  Tooltip,
  type ChartDataset,
  type Plugin,
  type TooltipItem,
} from 'chart.js';
import type { Roofline } from '../../src/kernels/roofline.js';
import { ridgePoint } from '../../src/lab/roofline.js';
import { LAB_FAMILIES, type LabFamily, type LabRow } from '../../src/lab/types.js';
import { FAMILY_COLORS, FAMILY_NAMES } from './families.js';
import { sig3 } from './format.js';

Chart.register(ScatterController, LineController, PointElement, LineElement, LogarithmicScale, Tooltip, Legend);

interface KernelPoint {
  x: number;
  y: number;
  /** The row's number in the results table. */
  n: number;
  row: LabRow;
}

type Dataset = ChartDataset<'scatter', KernelPoint[]> | ChartDataset<'line', { x: number; y: number }[]>;

const css = (name: string): string => getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';

/** Writes each point's table number beside it: with dozens of points, names would pile up. */
const pointNumbers: Plugin<'scatter'> = {
  id: 'pointNumbers',
  afterDatasetsDraw(chart) {
    const { ctx } = chart;
    ctx.save();
    ctx.font = '600 10px system-ui, sans-serif';
    ctx.fillStyle = css('--text');
    ctx.textBaseline = 'bottom';
    chart.data.datasets.forEach((ds, i) => {
      const meta = chart.getDatasetMeta(i);
      if (meta.hidden || meta.type !== 'scatter') return;
      meta.data.forEach((el, j) => {
        const p = ds.data[j] as unknown as KernelPoint;
        ctx.fillText(String(p.n), el.x + 4, el.y - 2);
      });
    });
    ctx.restore();
  },
};

const decadeBelow = (v: number): number => 10 ** Math.floor(Math.log10(v));
const decadeAbove = (v: number): number => 10 ** Math.ceil(Math.log10(v));

/** A log-log roofline: the two measured ceilings as lines, each kernel as a numbered point. */
export class RooflineChart {
  readonly chart: Chart<'scatter', KernelPoint[]>;
  private points: KernelPoint[] = [];
  private roofline: Roofline | null = null;

  constructor(canvas: HTMLCanvasElement) {
    const grid = css('--border');
    const muted = css('--muted');
    const axis = (text: string) => ({
      type: 'logarithmic' as const,
      title: { display: true, text, color: muted },
      grid: { color: grid },
      // decade labels are short: keep them level, even on a phone
      ticks: { color: muted, maxRotation: 0, callback: (v: number | string) => decadeLabel(Number(v)) },
    });
    this.chart = new Chart<'scatter', KernelPoint[]>(canvas, {
      type: 'scatter',
      data: { datasets: [] },
      options: {
        animation: false,
        maintainAspectRatio: false,
        responsive: true,
        scales: { x: axis('arithmetic intensity (flop/byte)'), y: axis('GFLOP/s') },
        plugins: {
          legend: { position: 'bottom', labels: { color: muted, usePointStyle: true, boxWidth: 7, boxHeight: 7, padding: 8, font: { size: 11 } } },
          tooltip: { callbacks: { label: (item: TooltipItem<'scatter'>) => describe(item) } },
        },
      },
      plugins: [pointNumbers],
    });
  }

  setRoofline(r: Roofline): void {
    this.roofline = r;
    this.redraw();
  }

  clear(): void {
    this.points = [];
    this.redraw();
  }

  add(row: LabRow, index: number): void {
    if (row.error || !(row.gflops > 0) || !(row.intensity > 0)) return;
    this.points.push({ x: row.intensity, y: row.gflops, n: index + 1, row });
    this.redraw();
  }

  private redraw(): void {
    const datasets: Dataset[] = [];
    const xs = this.points.map((p) => p.x);
    const ys = this.points.map((p) => p.y);
    const r = this.roofline;
    if (r) {
      const ridge = ridgePoint(r);
      const xMin = decadeBelow(Math.min(ridge / 10, ...xs));
      const xMax = decadeAbove(Math.max(ridge * 10, ...xs));
      xs.push(xMin, xMax);
      ys.push(r.fmaGflops, r.readGBps * xMin);
      datasets.push(
        line(`Read bandwidth ${sig3(r.readGBps)} GB/s`, css('--muted'), [{ x: xMin, y: r.readGBps * xMin }, { x: ridge, y: r.fmaGflops }]),
        line(`FMA peak ${sig3(r.fmaGflops)} GFLOP/s`, css('--text'), [{ x: ridge, y: r.fmaGflops }, { x: xMax, y: r.fmaGflops }]),
      );
    }
    for (const family of LAB_FAMILIES) {
      const data = this.points.filter((p) => p.row.family === family);
      if (data.length) datasets.push(scatter(family, data));
    }
    const scales = this.chart.options.scales!;
    if (xs.length) {
      Object.assign(scales.x!, { min: decadeBelow(Math.min(...xs)), max: decadeAbove(Math.max(...xs)) });
      Object.assign(scales.y!, { min: decadeBelow(Math.min(...ys)), max: decadeAbove(Math.max(...ys) * 1.5) });
    }
    this.chart.data.datasets = datasets as ChartDataset<'scatter', KernelPoint[]>[];
    this.chart.update('none');
  }
}

/** Label powers of ten only ("0.01", "1", "1000", "1e-5"): a log axis reads by its decades. */
function decadeLabel(v: number): string {
  const e = Math.round(Math.log10(v));
  if (Math.abs(Math.log10(v) - e) > 1e-9) return '';
  if (e < -3 || e > 5) return `1e${e}`;
  return e >= 0 ? `1${'0'.repeat(e)}` : `0.${'0'.repeat(-e - 1)}1`;
}

function line(label: string, color: string, data: { x: number; y: number }[]): ChartDataset<'line', { x: number; y: number }[]> {
  return { type: 'line', label, data, borderColor: color, backgroundColor: color, borderWidth: 2, pointRadius: 0, pointHitRadius: 0, pointStyle: 'line', fill: false, tension: 0 };
}

function scatter(family: LabFamily, data: KernelPoint[]): ChartDataset<'scatter', KernelPoint[]> {
  const color = FAMILY_COLORS[family];
  return { type: 'scatter', label: FAMILY_NAMES[family], data, backgroundColor: color, borderColor: color, pointRadius: 4, pointHoverRadius: 6 };
}

function describe(item: TooltipItem<'scatter'>): string {
  const p = item.raw as KernelPoint | undefined;
  if (!p || !('row' in p)) return item.dataset.label ?? '';
  const r = p.row;
  return `#${p.n} ${FAMILY_NAMES[r.family]} ${r.variant} ${r.format} ${r.shape}: ${sig3(r.gflops)} GFLOP/s at ${sig3(r.intensity)} flop/B`;
}
