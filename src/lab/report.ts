import type { GpuContext } from '../gpu/device.js';
import type { Roofline } from '../kernels/roofline.js';
import type { LabRow } from './types.js';

export const REPORT_SCHEMA = 'hearth-kernel-lab/1';

/** What the adapter says about itself: every feature and limit, not only those Hearth uses. */
export interface AdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  features: string[];
  limits: Record<string, number>;
  /** The optional features Hearth's device was created with. */
  hearthFeatures: GpuContext['features'];
}

/** A whole run, as exported: enough to compare machines and to rerun any row. */
export interface LabReport {
  schema: typeof REPORT_SCHEMA;
  date: string;
  userAgent: string;
  adapter: AdapterReport;
  roofline: Roofline | null;
  settings: Record<string, unknown>;
  rows: LabRow[];
}

/** Read everything an adapter reports; `adapter` may be a second one, as createGpuContext keeps its own. */
export function adapterReport(ctx: GpuContext, adapter: GPUAdapter | null): AdapterReport {
  const limits: Record<string, number> = {};
  const source = adapter?.limits ?? ctx.device.limits;
  // GPUSupportedLimits exposes its values as prototype getters: walk them, not own keys
  for (const key in source) {
    const v = (source as unknown as Record<string, unknown>)[key];
    if (typeof v === 'number') limits[key] = v;
  }
  return {
    ...ctx.adapterInfo,
    features: [...(adapter?.features ?? ctx.device.features)].map(String).sort(),
    limits,
    hearthFeatures: { ...ctx.features },
  };
}

/** JSON has no Infinity: a NaN/failed error becomes null. */
function replacer(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? null : value;
}

export function buildReport(r: Omit<LabReport, 'schema'>): LabReport {
  return { schema: REPORT_SCHEMA, ...r };
}

export const reportJson = (r: LabReport): string => `${JSON.stringify(r, replacer, 2)}\n`;
