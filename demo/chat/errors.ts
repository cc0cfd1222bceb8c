/**
 * Every failure reaches the user as a readable notice (code, what happened, what to do), never
 * as a dead page; WebGPU is checked up front so a browser without it says so before any download.
 */
import { isHearthError } from '../../src/index.js';
import { h } from '../shared/dom.js';

export interface Problem {
  code: string;
  message: string;
  hint?: string;
}

/** Advice for codes where the engine's own hint may not speak to a chat user. */
const ADVICE: Record<string, string> = {
  WEBGPU_LIMITS: 'This model needs more than this GPU offers. Try a smaller model, a shorter context length, or another browser or device.',
  OUT_OF_MEMORY: 'The GPU ran out of memory. Try a smaller model, 4-bit weights (q4_0) or a shorter context length, and close other GPU-heavy tabs.',
  DEVICE_LOST: 'The GPU was reset (a driver hiccup, or too much memory in use). Load the model again.',
  WORKER_CRASHED: 'The engine stopped. Load the model again; if it keeps happening, try a smaller model.',
  QUOTA_EXCEEDED: 'The browser will not store more. Delete cached models below, or free disk space.',
  NETWORK: 'Check the connection and try again; a download that was cut off resumes where it stopped.',
};

export function toProblem(e: unknown): Problem {
  if (isHearthError(e)) {
    // the engine appends its hint to the message; show them apart
    const message = e.hint && e.message.endsWith(e.hint) ? e.message.slice(0, -e.hint.length).trim() : e.message;
    const hint = [e.hint, ADVICE[e.code]].filter((s): s is string => !!s).join(' ');
    return { code: e.code, message, hint: hint || undefined };
  }
  if (e instanceof DOMException && e.name === 'AbortError') return { code: 'ABORTED', message: 'Stopped.' };
  if (e instanceof Error) return { code: e.name && e.name !== 'Error' ? e.name : 'ERROR', message: e.message || String(e) };
  return { code: 'ERROR', message: String(e) };
}

export function problemView(p: Problem, opts: { onDismiss?: () => void; actions?: HTMLElement[] } = {}): HTMLElement {
  return h(
    'div',
    { class: 'notice notice-error', role: 'alert' },
    h(
      'div',
      { class: 'notice-body' },
      h('p', { class: 'notice-title' }, h('code', { class: 'notice-code' }, p.code), ' ', p.message),
      p.hint ? h('p', { class: 'notice-hint' }, p.hint) : null,
      opts.actions?.length ? h('div', { class: 'notice-actions' }, opts.actions) : null,
    ),
    opts.onDismiss ? h('button', { class: 'btn btn-ghost btn-small notice-close', type: 'button', 'aria-label': 'Dismiss', onclick: opts.onDismiss }, '×') : null,
  );
}

/** The page-wide notice area: one notice per distinct problem, newest first. */
export class Notices {
  constructor(private readonly area: HTMLElement) {}

  show(e: unknown, actions?: HTMLElement[]): void {
    this.showProblem(toProblem(e), actions);
  }

  showProblem(p: Problem, actions?: HTMLElement[]): void {
    if (p.code === 'ABORTED') return;
    const el = problemView(p, { onDismiss: () => el.remove(), actions });
    el.dataset.code = p.code;
    this.area.prepend(el);
  }

  clear(code?: string): void {
    for (const el of [...this.area.querySelectorAll<HTMLElement>('.notice')]) if (!code || el.dataset.code === code) el.remove();
  }
}

export type GpuCheck = { ok: true; adapter: string } | { ok: false; problem: Problem };

/** Is WebGPU here and does it give an adapter? Asked once, before offering any download. */
export async function checkWebGpu(): Promise<GpuCheck> {
  const what = 'Use a current Chrome or Edge (113 or later) on Windows, macOS or ChromeOS, Chrome on Android 12+, Safari 26+, or Firefox 141+ on Windows.';
  if (!window.isSecureContext) {
    return {
      ok: false,
      problem: {
        code: 'WEBGPU_UNAVAILABLE',
        message: 'WebGPU only works on secure pages, and this page was opened over plain http from another machine.',
        hint: 'Open the demo at http://localhost (run it on this machine), or serve it over https.',
      },
    };
  }
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) {
    return { ok: false, problem: { code: 'WEBGPU_UNAVAILABLE', message: 'This browser has no WebGPU, which Hearth needs to run models on your GPU.', hint: `${what} On Linux, Chrome needs chrome://flags/#enable-unsafe-webgpu turned on.` } };
  }
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch {
    adapter = null;
  }
  if (!adapter) {
    return {
      ok: false,
      problem: {
        code: 'WEBGPU_UNAVAILABLE',
        message: 'WebGPU is here, but the browser offered no GPU adapter (the GPU or its driver may be blocked).',
        hint: 'Turn on hardware acceleration in the browser settings, update the GPU driver, and see chrome://gpu for what the browser thinks of your GPU.',
      },
    };
  }
  const info = adapter.info;
  const name = [info?.vendor, info?.architecture, info?.description].filter((s) => s && s.length).join(' · ') || 'a GPU';
  return { ok: true, adapter: name };
}
