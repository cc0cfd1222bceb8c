/** Numbers as people read them: decimal byte units (as the Hub shows sizes; defined in src/util/bytes.ts), times, rates. */
export { formatBytes } from '../../src/util/bytes.js';

export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

export function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond) || perSecond <= 0) return '–';
  return perSecond >= 100 ? perSecond.toFixed(0) : perSecond.toFixed(1);
}

export function percent(loaded: number, total: number): number {
  return total > 0 ? Math.max(0, Math.min(100, (loaded / total) * 100)) : 0;
}

/** When a chat was last written to, as a chat list shows it: the time today, else the day. */
export function formatWhen(ms: number, now = new Date()): string {
  const d = new Date(ms);
  if (!Number.isFinite(ms)) return '';
  const day = (x: Date) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
  const days = Math.round((day(now) - day(d)) / 86_400_000);
  if (days <= 0) return d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  if (days === 1) return 'Yesterday';
  if (days < 7) return d.toLocaleDateString(undefined, { weekday: 'long' });
  return d.toLocaleDateString(undefined, { day: 'numeric', month: 'short', ...(d.getFullYear() === now.getFullYear() ? {} : { year: 'numeric' }) });
}
