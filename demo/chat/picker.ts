/**
 * The model picker: models this demo's server offers, models already cached in the browser (with
 * sizes and a delete button), recommended Hub models, any Hub repo or URL, and files from disk.
 * The Hub is asked about a model only once the user has chosen it.
 */
import { deleteCachedModel, listCachedModels, type CachedModelInfo } from '../../src/index.js';
import { byId, h } from '../shared/dom.js';
import { formatBytes } from './format.js';
import { describePick } from './files.js';
import { problemView, type Notices } from './errors.js';
import {
  HUB,
  RECOMMENDED,
  describeCacheEntry,
  fetchLocalModels,
  isSpeechModel,
  hubCacheKey,
  hubTree,
  localModelUrl,
  planRepo,
  recommendedSpec,
  type LocalModel,
  type Recommended,
} from './models.js';
import type { LoadRequest } from './session.js';

export class Picker {
  private cached: CachedModelInfo[] = [];
  private local: LocalModel[] = [];
  private loadedModel: string | null = null;
  private readonly liveSizes = new Map<string, number>();
  private lookup: AbortController | null = null;

  constructor(
    private readonly onLoad: (req: LoadRequest) => void,
    private readonly notices: Notices,
  ) {
    byId<HTMLFormElement>('hub-form').addEventListener('submit', (e) => {
      e.preventDefault();
      void this.lookUp(byId<HTMLInputElement>('hub-input').value.trim());
    });
    for (const id of ['file-input', 'folder-input']) {
      const input = byId<HTMLInputElement>(id);
      input.addEventListener('change', () => {
        const files = [...(input.files ?? [])];
        input.value = '';
        if (files.length) this.loadFiles(files);
      });
    }
  }

  /** Files picked or dropped by the user. */
  loadFiles(files: File[], folder?: string): void {
    const pick = describePick(files, folder);
    if (typeof pick === 'string') {
      this.notices.show(new Error(pick));
      return;
    }
    this.onLoad({ model: pick.model, title: pick.title, expectedBytes: pick.bytes, local: true });
  }

  setLoaded(model: string | null): void {
    this.loadedModel = model;
    this.renderAll();
  }

  async refresh(): Promise<void> {
    const [local, cached] = await Promise.all([
      // a served Whisper folder is the microphone's model, not one to chat with
      this.local.length ? Promise.resolve(this.local) : fetchLocalModels().then((l) => l.filter((m) => !isSpeechModel(m))),
      listCachedModels().catch((e: unknown) => {
        this.notices.show(e);
        return [] as CachedModelInfo[];
      }),
    ]);
    this.local = local;
    this.cached = cached;
    this.renderAll();
  }

  private renderAll(): void {
    this.renderLocal();
    this.renderCached();
    this.renderRecommended();
  }

  private cachedEntry(key: string): CachedModelInfo | undefined {
    return this.cached.find((c) => c.key === key);
  }

  private loadedBadge(model: string): HTMLElement | null {
    return this.loadedModel === model ? h('span', { class: 'badge badge-accent' }, 'loaded') : null;
  }

  private renderLocal(): void {
    const section = byId('local-section');
    section.hidden = this.local.length === 0;
    byId('local-list').replaceChildren(
      ...this.local.map((m) => {
        const url = localModelUrl(m);
        const cached = this.cachedEntry(url);
        const complete = cached?.files.every((f) => f.complete);
        return h(
          'li',
          { class: 'model-row model-row-local', 'data-model': m.name },
          h(
            'div',
            { class: 'model-main' },
            h(
              'span',
              { class: 'model-title' },
              m.name,
              ' ',
              h('span', { class: 'badge badge-ready', title: 'This demo serves the file from this computer: nothing to download' }, 'ready'),
              ' ',
              complete ? h('span', { class: 'badge badge-ok' }, 'cached') : null,
              ' ',
              this.loadedBadge(url),
            ),
            h('span', { class: 'model-sub' }, `${m.kind === 'folder' ? `folder · ${m.files.length} files` : 'file'} · ${formatBytes(m.bytes)} · served locally, no download`),
          ),
          h('div', { class: 'model-actions' }, h('button', { class: 'btn btn-primary btn-small', type: 'button', onclick: () => this.onLoad({ model: url, title: m.name, expectedBytes: m.bytes }) }, 'Load')),
        );
      }),
    );
  }

  private renderCached(): void {
    const total = this.cached.reduce((s, c) => s + c.bytes, 0);
    byId('cached-total').textContent = this.cached.length ? formatBytes(total) : '';
    byId('cached-empty').hidden = this.cached.length > 0;
    byId('cached-list').replaceChildren(
      ...this.cached.map((c) => {
        const view = describeCacheEntry(c);
        const complete = c.files.every((f) => f.complete);
        const files = `${c.files.length} file${c.files.length === 1 ? '' : 's'}`;
        const spec = view.spec;
        const speech = c.files.some((f) => f.file === 'model.bin');
        return h(
          'li',
          { class: 'model-row', 'data-key': c.key },
          h(
            'div',
            { class: 'model-main' },
            h('span', { class: 'model-title', title: c.key }, view.title, ' ', complete ? null : h('span', { class: 'badge', title: 'The download was interrupted; loading resumes it' }, 'partial'), ' ', spec ? this.loadedBadge(spec.model) : null),
            h('span', { class: 'model-sub' }, `${view.origin} · ${files} · `, h('span', { class: 'cached-size' }, formatBytes(c.bytes))),
          ),
          h(
            'div',
            { class: 'model-actions' },
            // the microphone's Whisper model is cached here too: it loads with the microphone, not as a chat model
            speech
              ? h('span', { class: 'badge', title: 'Used by the microphone button in the chat; it loads when you record' }, 'speech model')
              : spec
                ? h('button', { class: 'btn btn-small', type: 'button', onclick: () => this.onLoad({ model: spec.model, title: view.title, ...(spec.endpoint ? { endpoint: spec.endpoint } : {}) }) }, complete ? 'Load' : 'Resume')
                : null,
            h('button', { class: 'btn btn-small btn-danger', type: 'button', 'aria-label': `Delete ${view.title} from the cache`, onclick: () => void this.remove(c.key, view.title) }, 'Delete'),
          ),
        );
      }),
    );
  }

  private async remove(key: string, title: string): Promise<void> {
    if (!confirm(`Delete ${title} (${formatBytes(this.cachedEntry(key)?.bytes ?? 0)}) from this browser? Loading it again will download it again.`)) return;
    try {
      await deleteCachedModel(key);
    } catch (e) {
      this.notices.show(e);
    }
    await this.refresh();
  }

  private renderRecommended(): void {
    byId('recommended').replaceChildren(...RECOMMENDED.map((r) => this.recommendedCard(r)));
  }

  private recommendedCard(r: Recommended): HTMLElement {
    const spec = recommendedSpec(r);
    const cached = this.cachedEntry(hubCacheKey(r.repo));
    const complete = cached && cached.files.some((f) => f.file === r.file && f.complete);
    const live = this.liveSizes.get(r.repo);
    const size = complete
      ? h('span', {}, `${formatBytes(cached.bytes)} · `, h('span', { class: 'badge badge-ok' }, 'cached'))
      : live !== undefined
        ? h('span', {}, `${formatBytes(live)} download`)
        : h('span', { title: 'Choose the model to check its size on the Hub' }, `≈${formatBytes(r.estimateBytes)} download (estimate)`);
    const card = h(
      'article',
      { class: 'rec-card card', tabindex: 0, 'aria-label': r.title },
      h('div', { class: 'rec-head' }, h('h3', {}, r.title), this.loadedBadge(spec)),
      h('p', { class: 'rec-meta' }, `${r.params} params · ${r.quant} · `, size),
      h('p', { class: 'rec-note' }, r.note),
      h(
        'div',
        { class: 'rec-actions' },
        h('button', { class: 'btn btn-primary btn-small', type: 'button', onclick: () => this.onLoad({ model: spec, title: r.title, expectedBytes: live ?? r.estimateBytes }) }, complete ? 'Load' : 'Download and load'),
        h('a', { class: 'rec-link', href: `${HUB}/${r.repo}`, target: '_blank', rel: 'noopener noreferrer' }, 'on the Hub ↗'),
      ),
    );
    // choosing the card (not before) asks the Hub for the current size
    const choose = () => {
      if (!complete && !this.liveSizes.has(r.repo)) void this.checkSize(r);
    };
    card.addEventListener('click', choose);
    card.addEventListener('keydown', (e) => {
      if ((e.key === 'Enter' || e.key === ' ') && e.target === card) {
        e.preventDefault();
        choose();
      }
    });
    return card;
  }

  private async checkSize(r: Recommended): Promise<void> {
    const files = await hubTree(r.repo);
    const f = files?.find((x) => x.path === r.file);
    if (f && f.size > 0) {
      this.liveSizes.set(r.repo, f.size);
      this.renderRecommended();
    }
  }

  /** A typed Hub repo id or URL: URLs and named files load directly; a repo is looked up first. */
  private async lookUp(input: string): Promise<void> {
    const out = byId('hub-result');
    this.lookup?.abort();
    if (!input) return;
    if (/^https?:\/\//i.test(input)) {
      const name = decodeURIComponent(new URL(input).pathname.split('/').filter(Boolean).pop() ?? input);
      out.replaceChildren();
      this.onLoad({ model: input, title: name });
      return;
    }
    const m = /^(?:hf:)?([A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*)(?:@([^/\s]+))?(?:\/(\S+))?$/.exec(input);
    if (!m) {
      out.replaceChildren(problemView({ code: 'INVALID_ARGUMENT', message: `“${input}” is not a Hub repo id or a URL.`, hint: 'Write owner/name (e.g. HuggingFaceTB/SmolLM2-360M-Instruct), owner/name/file.gguf, or a full https:// URL.' }));
      return;
    }
    const [, repo, revision, file] = m as unknown as [string, string, string | undefined, string | undefined];
    const base = `${repo}${revision ? `@${revision}` : ''}`;
    if (file) {
      out.replaceChildren();
      this.onLoad({ model: input, title: `${repo}/${file}` });
      return;
    }
    const ctrl = new AbortController();
    this.lookup = ctrl;
    out.replaceChildren(h('p', { class: 'muted' }, `Looking up ${repo} on the Hub…`));
    const files = await hubTree(repo, revision ?? 'main', ctrl.signal);
    if (ctrl.signal.aborted) return;
    if (!files) {
      out.replaceChildren(
        h('p', { class: 'muted' }, `Could not list ${repo} on the Hub (offline, private, or no such repo). You can still try to load it.`),
        h('button', { class: 'btn btn-primary btn-small', type: 'button', onclick: () => this.onLoad({ model: base, title: repo }) }, `Load ${repo}`),
      );
      return;
    }
    const plan = planRepo(files);
    if (plan.kind === 'none') {
      out.replaceChildren(problemView({ code: 'UNSUPPORTED_FORMAT', message: `${repo} has no .gguf file and no safetensors model with config.json.`, hint: 'Hearth loads GGUF (F32, F16, Q8_0, Q4_0) and safetensors (F32, F16, BF16) Llama-family models.' }));
      return;
    }
    if (plan.kind === 'safetensors') {
      out.replaceChildren(
        h('div', { class: 'hub-plan' },
          h('p', {}, h('strong', {}, repo), ` · safetensors · ${plan.files.length} files · ${formatBytes(plan.bytes)} to download`),
          h('p', { class: 'muted' }, 'Tip: “4-bit (q4_0)” under Load options quarters the GPU memory of 16-bit weights.'),
          h('button', { class: 'btn btn-primary btn-small', type: 'button', onclick: () => this.onLoad({ model: base, title: repo, expectedBytes: plan.bytes }) }, `Download and load`),
        ),
      );
      return;
    }
    const form = h('form', { class: 'hub-plan' });
    const first = plan.choices.find((c) => c.supported);
    form.append(
      h('p', {}, h('strong', {}, repo), ` has ${plan.choices.length} GGUF file${plan.choices.length === 1 ? '' : 's'}:`),
      h(
        'div',
        { class: 'gguf-choices' },
        plan.choices.map((c) =>
          h(
            'label',
            { class: `gguf-choice${c.supported ? '' : ' unsupported'}` },
            h('input', { type: 'radio', name: 'gguf', value: c.file, disabled: !c.supported, checked: c === first }),
            h('span', { class: 'gguf-name' }, c.file),
            h('span', { class: 'gguf-size' }, `${c.quant} · ${formatBytes(c.size)}${c.supported ? '' : ' · not supported yet'}`),
          ),
        ),
      ),
      h('button', { class: 'btn btn-primary btn-small', type: 'submit', disabled: !first }, 'Download and load'),
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const chosen = form.querySelector<HTMLInputElement>('input[name="gguf"]:checked');
      const c = plan.choices.find((x) => x.file === chosen?.value);
      if (c) this.onLoad({ model: `${base}/${c.file}`, title: `${repo}/${c.file}`, expectedBytes: c.size });
    });
    out.replaceChildren(form);
  }
}
