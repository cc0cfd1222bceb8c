/** Summaries of repeated measurements: the median, and the spread as min/max and quartiles. */

export interface Spread {
  median: number;
  min: number;
  max: number;
  p25: number;
  p75: number;
  n: number;
  samples: number[];
}

function quantile(sorted: number[], q: number): number {
  if (!sorted.length) return NaN;
  const i = (sorted.length - 1) * q;
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (i - lo);
}

export function spread(samples: number[]): Spread {
  const s = samples.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  return { median: quantile(s, 0.5), min: s[0] ?? NaN, max: s[s.length - 1] ?? NaN, p25: quantile(s, 0.25), p75: quantile(s, 0.75), n: s.length, samples: [...samples] };
}

/** Map every sample through `f` (e.g. ms -> GB/s); order statistics follow, inverted when f decreases. */
export function mapSpread(x: Spread, f: (v: number) => number): Spread {
  return spread(x.samples.map(f));
}

/** Relative half-width of the interquartile range: a quick read on how noisy a figure is. */
export const relSpread = (x: Spread): number => (x.p75 - x.p25) / (2 * x.median);
