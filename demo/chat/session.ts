/**
 * The one loaded model: load (with the progress card), cancel, replace, unload. A new load first
 * ends the old engine, so two models never hold GPU memory at once.
 */
import { createEngine, isHearthError, type BrowserEngine, type EngineInfo } from '../../src/index.js';
import { LoadProgressView } from './progress.js';
import { problemView, toProblem } from './errors.js';
import type { LoadOptions } from './settings.js';
import { h } from '../shared/dom.js';

export interface LoadRequest {
  model: string | File | File[];
  title: string;
  endpoint?: string;
  /** Download size when known beforehand. */
  expectedBytes?: number;
  /** The files are on the user's disk. */
  local?: boolean;
}

export interface Loaded {
  engine: BrowserEngine;
  info: EngineInfo;
  title: string;
  request: LoadRequest;
}

export interface SessionEvents {
  /** Before a load replaces the current model. */
  beforeLoad(): void;
  loaded(l: Loaded): void;
  unloaded(): void;
  /** A load ended (loaded, failed or cancelled): the cache may have changed. */
  settled(): void;
}

export class Session {
  current: Loaded | null = null;
  private loading: AbortController | null = null;

  constructor(
    private readonly slot: HTMLElement,
    private readonly options: () => LoadOptions,
    private readonly events: SessionEvents,
  ) {}

  get busy(): boolean {
    return this.loading !== null;
  }

  async load(req: LoadRequest): Promise<boolean> {
    this.loading?.abort();
    const ctrl = new AbortController();
    this.loading = ctrl;
    this.events.beforeLoad();
    await this.unload();

    const view = new LoadProgressView(req.title, () => ctrl.abort(), req.expectedBytes, req.local);
    this.slot.replaceChildren(view.el);
    view.el.scrollIntoView({ block: 'nearest' });
    const { dtype, contextLength, kvCache } = this.options();
    try {
      const engine = await createEngine({
        model: req.model,
        ...(req.endpoint ? { endpoint: req.endpoint } : {}),
        ...(dtype ? { dtype } : {}),
        ...(contextLength ? { contextLength } : {}),
        ...(kvCache ? { kvCache } : {}),
        signal: ctrl.signal,
        onProgress: (p) => view.update(p),
      });
      if (ctrl.signal.aborted) {
        await engine.unload();
        return false;
      }
      view.finish(true);
      this.current = { engine, info: engine.info, title: req.title, request: req };
      this.slot.replaceChildren();
      this.events.loaded(this.current);
      return true;
    } catch (e) {
      view.finish(false);
      if (ctrl.signal.aborted || isHearthError(e, 'ABORTED')) {
        if (this.loading === ctrl) this.slot.replaceChildren();
        return false;
      }
      const retry = h('button', { class: 'btn btn-small', type: 'button', onclick: () => void this.load(req) }, 'Try again');
      const dismiss = h('button', { class: 'btn btn-small btn-ghost', type: 'button', onclick: () => this.slot.replaceChildren() }, 'Dismiss');
      view.el.append(problemView(toProblem(e), { actions: [retry, dismiss] }));
      return false;
    } finally {
      if (this.loading === ctrl) this.loading = null;
      this.events.settled();
    }
  }

  async unload(): Promise<void> {
    const c = this.current;
    if (!c) return;
    this.current = null;
    this.events.unloaded();
    await c.engine.unload().catch(() => undefined);
  }
}
