/** Number formats for figures that span a CPU driver (0.001 GB/s) to a big GPU (3000 GB/s). */

/** Three significant digits, no exponent for everyday magnitudes. */
export function sig3(v: number): string {
  if (!Number.isFinite(v)) return '—';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  if (a >= 0.001) return v.toPrecision(3);
  return v.toExponential(1);
}

/** An error magnitude: 0, or a short exponent form. */
export function err(v: number): string {
  if (!Number.isFinite(v)) return '—';
  return v === 0 ? '0' : v.toExponential(1);
}

export const pct = (v: number): string => (v > 0 ? `${(100 * v).toFixed(v < 0.1 ? 1 : 0)}%` : '—');

export function bytes(n: number): string {
  if (n >= 1 << 30) return `${(n / 2 ** 30).toFixed(n % 2 ** 30 ? 1 : 0)} GiB`;
  if (n >= 1 << 20) return `${(n / 2 ** 20).toFixed(n % 2 ** 20 ? 1 : 0)} MiB`;
  if (n >= 1 << 10) return `${(n / 2 ** 10).toFixed(n % 2 ** 10 ? 1 : 0)} KiB`;
  return `${n} B`;
}

export function duration(ms: number): string {
  return ms < 1000 ? `${ms.toFixed(0)} ms` : ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}
