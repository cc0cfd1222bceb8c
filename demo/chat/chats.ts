/**
 * The list of saved chats (the sidebar): every stored session, newest first; opening one shows its
 * messages at once and then loads its KV cache back into the engine, so the next message computes
 * only itself. Rename, export to a file, delete (after asking), import from a file.
 *
 * A session whose KV cache was computed by another model (another file, revision or weight format)
 * cannot continue with the loaded one: it is listed under "Other models", opens read-only, and can
 * be copied into a new chat that recomputes it once.
 */
import type { BrowserEngine, Session, SessionInfo, SessionListEntry } from '../../src/index.js';
import { h } from '../shared/dom.js';
import type { Conversation } from './conversation.js';
import type { Notices } from './errors.js';
import { formatBytes, formatWhen } from './format.js';

export interface ChatsElements {
  list: HTMLElement;
  empty: HTMLElement;
  storage: HTMLElement;
  newChat: HTMLButtonElement;
  importInput: HTMLInputElement;
}

export interface ChatsEvents {
  /** A chat was opened or started: a drawer can close, the composer take the focus. */
  opened(): void;
}

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;

/** A file name from a chat's title: letters, digits and dashes. */
function fileName(title: string): string {
  const slug = title
    .normalize('NFKD')
    .replace(/[^\p{L}\p{N}]+/gu, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60)
    .toLowerCase();
  return `${slug || 'chat'}.hearth-session`;
}

/** The model a session belongs to, in a few words: its file or repo name and weight format. */
function modelName(s: SessionInfo): string {
  const m = s.model;
  if (!m) return 'another model';
  const name = m.source.replace(/[?#].*$/, '').split('/').filter(Boolean).pop() ?? m.source;
  // the same file loaded at another weight format is another model too, so always say which
  return `${name} (${!m.dtype || m.dtype === 'as-stored' ? 'weights as stored in the file' : `${m.dtype} weights`})`;
}

export class Chats {
  private engine: BrowserEngine | null = null;
  private modelTitle = '';
  private entries: SessionListEntry[] = [];
  private backend: string | null = null;
  /** Bumped by every open/new/delete, so a slow open never overrides a later choice. */
  private opening = 0;
  private refreshing: Promise<void> = Promise.resolve();

  constructor(
    private readonly els: ChatsElements,
    private readonly conversation: Conversation,
    private readonly notices: Notices,
    private readonly events: ChatsEvents,
  ) {
    els.newChat.addEventListener('click', () => void this.newChat());
    els.importInput.addEventListener('change', () => {
      const file = els.importInput.files?.[0];
      els.importInput.value = '';
      if (file) void this.importFile(file);
    });
    this.render();
  }

  setEngine(engine: BrowserEngine | null, modelTitle = ''): void {
    this.engine = engine;
    this.modelTitle = modelTitle;
    this.entries = [];
    this.backend = null;
    this.opening++;
    this.render();
    if (engine) {
      void engine.sessions.storage().then(
        (s) => {
          if (this.engine !== engine) return;
          this.backend = s.backend;
          this.render();
        },
        () => undefined,
      );
      void this.refresh();
    }
  }

  /** Reads the list again (one at a time, so an older answer never lands after a newer one). */
  refresh(): Promise<void> {
    this.refreshing = this.refreshing.then(async () => {
      const engine = this.engine;
      if (!engine) return;
      try {
        const entries = await engine.sessions.list();
        if (this.engine !== engine) return;
        this.entries = entries;
        this.render();
      } catch (e) {
        if (this.engine === engine) this.notices.show(e);
      }
    });
    return this.refreshing;
  }

  /** A session the conversation just made: it appears in the list after its first turn. */
  async create(messages: Session['messages']): Promise<string> {
    const engine = this.need();
    return (await engine.sessions.create({ messages, metadata: { app: 'hearth-demo' } })).id;
  }

  async newChat(): Promise<void> {
    this.opening++;
    await this.conversation.settle();
    this.conversation.clear();
    this.render();
    this.events.opened();
  }

  async open(id: string): Promise<void> {
    const engine = this.need();
    const token = ++this.opening;
    await this.conversation.settle();
    let s: Session;
    try {
      s = await engine.sessions.get(id);
    } catch (e) {
      this.notices.show(e);
      void this.refresh();
      return;
    }
    if (token !== this.opening || this.engine !== engine) return;
    const other = s.compatible === false;
    this.conversation.show(s, other ? { reason: 'Read-only: this chat belongs to another model', banner: this.otherModelBanner(s) } : null);
    this.render();
    this.events.opened();
    if (other || s.storedTokens === 0) return;
    try {
      // damaged KV is dropped (the messages stay) and recomputed by the next turn
      if (s.status === 'damaged') await engine.sessions.repair(id);
      const r = await engine.sessions.restore(id);
      if (token === this.opening && this.conversation.sessionId === id) this.conversation.resumed(r);
    } catch (e) {
      if (token === this.opening) this.notices.show(e);
    }
  }

  private need(): BrowserEngine {
    if (!this.engine) throw new Error('No model is loaded.');
    return this.engine;
  }

  private async rename(id: string, title: string): Promise<void> {
    try {
      await this.need().sessions.update(id, { title });
    } catch (e) {
      this.notices.show(e);
    }
    await this.refresh();
    this.rowButton(id)?.focus();
  }

  private async remove(id: string): Promise<void> {
    const engine = this.need();
    if (this.conversation.sessionId === id) {
      this.opening++;
      await this.conversation.settle();
      this.conversation.clear();
    }
    try {
      await engine.sessions.delete(id);
    } catch (e) {
      this.notices.show(e);
    }
    await this.refresh();
    this.els.newChat.focus();
  }

  private async exportChat(id: string, title: string): Promise<void> {
    try {
      const blob = await this.need().sessions.export(id);
      const url = URL.createObjectURL(blob);
      const a = h('a', { href: url, download: fileName(title), hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      // the download has its own copy once it starts; keep the URL a little in case it is slow to
      setTimeout(() => URL.revokeObjectURL(url), 30_000);
    } catch (e) {
      this.notices.show(e);
    }
  }

  private async importFile(file: File): Promise<void> {
    const engine = this.engine;
    if (!engine) return;
    let info: SessionInfo;
    try {
      info = await engine.sessions.import(file);
    } catch (e) {
      this.notices.show(e);
      return;
    }
    await this.refresh();
    await this.open(info.id);
  }

  /** A chat of another model, continued here: its messages in a new session, recomputed once. */
  private async copy(s: Session): Promise<void> {
    try {
      const info = await this.need().sessions.create({ title: s.title, messages: s.messages, metadata: { app: 'hearth-demo', copiedFrom: s.id } });
      await this.refresh();
      await this.open(info.id);
    } catch (e) {
      this.notices.show(e);
    }
  }

  private otherModelBanner(s: Session): HTMLElement {
    return h(
      'div',
      { class: 'chat-note chat-banner', role: 'note' },
      h('p', {}, h('strong', {}, 'Made with another model. '), `Its saved context was computed by ${modelName(s)}, not by the model loaded now: load that one to continue it where it stopped.`),
      h('p', {}, 'Or continue it with the loaded model: its messages are copied into a new chat and computed once.'),
      h('button', { class: 'btn btn-small', type: 'button', onclick: () => void this.copy(s) }, `Continue with ${this.modelTitle}`),
    );
  }

  private rowButton(id: string): HTMLButtonElement | null {
    return this.els.list.querySelector<HTMLButtonElement>(`li[data-id="${CSS.escape(id)}"] .chat-open`);
  }

  private render(): void {
    const { list, empty, storage } = this.els;
    const readable = this.entries.filter((e): e is SessionInfo => e.status !== 'unreadable');
    const mine = readable.filter((e) => e.compatible !== false);
    const other = readable.filter((e) => e.compatible === false);
    const bad = this.entries.filter((e) => e.status === 'unreadable');
    list.replaceChildren(
      ...mine.map((e) => this.row(e)),
      ...(other.length ? [h('li', { class: 'chat-group', role: 'presentation' }, 'Other models'), ...other.map((e) => this.row(e))] : []),
      ...bad.map((e) => this.unreadableRow(e.id, e.status === 'unreadable' ? e.error.message : '')),
    );
    empty.hidden = this.entries.length > 0 || !this.engine;
    const bytes = readable.reduce((s, e) => s + e.bytes, 0);
    const where = this.backend === 'memory' ? 'This browser gives this page no private storage: chats last until the page closes.' : 'Kept in this browser only.';
    storage.textContent = this.entries.length ? `${plural(this.entries.length, 'chat')}, ${formatBytes(bytes)}. ${where}` : this.backend === 'memory' ? where : '';
  }

  private row(e: SessionInfo): HTMLElement {
    const other = e.compatible === false;
    const title = e.title || 'Untitled chat';
    const current = this.conversation.sessionId === e.id;
    const meta = [formatWhen(e.updatedAt), plural(e.messageCount, 'message'), formatBytes(e.bytes)].join(' · ');
    const open = h(
      'button',
      {
        class: 'chat-open',
        type: 'button',
        'aria-current': current ? 'true' : null,
        title: other ? `Made with ${modelName(e)}: opens read-only` : e.preview || title,
        onclick: () => void this.open(e.id),
      },
      h('span', { class: 'chat-title-row' }, h('span', { class: 'chat-title' }, title), other ? h('span', { class: 'badge chat-other' }, 'other model') : null),
      h('span', { class: 'chat-meta' }, meta),
    );
    const actions = h('div', { class: 'chat-actions', hidden: true });
    const more = h('button', { class: 'btn btn-ghost btn-small chat-more', type: 'button', 'aria-label': `More for “${title}”`, 'aria-expanded': 'false', title: 'Rename, export, delete' }, '⋯');
    const li = h('li', { class: 'chat-row', 'data-id': e.id, 'data-other': other ? 'yes' : null }, open, more, actions);

    const showActions = () => {
      actions.replaceChildren(
        h('button', { class: 'btn btn-small btn-ghost', type: 'button', onclick: () => renaming() }, 'Rename'),
        h('button', { class: 'btn btn-small btn-ghost', type: 'button', onclick: () => void this.exportChat(e.id, title) }, 'Export'),
        h('button', { class: 'btn btn-small btn-ghost btn-danger', type: 'button', onclick: () => confirming() }, 'Delete'),
      );
    };
    more.addEventListener('click', () => {
      const show = actions.hidden;
      actions.hidden = !show;
      more.setAttribute('aria-expanded', String(show));
      if (show) showActions();
    });
    const confirming = () => {
      const cancel = h('button', { class: 'btn btn-small btn-ghost', type: 'button', onclick: () => (showActions(), actions.querySelector<HTMLElement>('.btn-danger')?.focus()) }, 'Cancel');
      actions.replaceChildren(
        h('p', { class: 'chat-confirm' }, `Delete “${title}”? It is removed from this browser for good.`),
        h('button', { class: 'btn btn-small btn-danger chat-delete', type: 'button', onclick: () => void this.remove(e.id) }, 'Delete'),
        cancel,
      );
      cancel.focus();
    };
    const renaming = () => {
      const input = h('input', { type: 'text', class: 'chat-rename', value: e.title, maxlength: 200, 'aria-label': 'Chat name', autocomplete: 'off' });
      let done = false;
      const finish = (save: boolean) => {
        if (done) return;
        done = true;
        const v = input.value.replace(/\s+/g, ' ').trim();
        if (save && v !== e.title) void this.rename(e.id, v);
        else {
          form.replaceWith(open);
          actions.hidden = true;
          more.setAttribute('aria-expanded', 'false');
          open.focus();
        }
      };
      const form = h('form', { class: 'chat-rename-form' }, input);
      form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        finish(true);
      });
      input.addEventListener('keydown', (ev) => {
        if (ev.key !== 'Escape') return;
        // Escape here only cancels the rename: it must not also stop a reply or close the drawer
        ev.stopPropagation();
        ev.preventDefault();
        finish(false);
      });
      input.addEventListener('blur', () => finish(true));
      open.replaceWith(form);
      input.focus();
      input.select();
    };
    return li;
  }

  private unreadableRow(id: string, why: string): HTMLElement {
    const actions = h('div', { class: 'chat-actions' });
    const ask = () => {
      const cancel = h('button', { class: 'btn btn-small btn-ghost', type: 'button', onclick: () => (offer(), actions.querySelector<HTMLElement>('button')?.focus()) }, 'Cancel');
      actions.replaceChildren(
        h('p', { class: 'chat-confirm' }, 'Delete it? It is removed from this browser for good.'),
        h('button', { class: 'btn btn-small btn-danger chat-delete', type: 'button', onclick: () => void this.remove(id) }, 'Delete'),
        cancel,
      );
      cancel.focus();
    };
    const offer = () => actions.replaceChildren(h('button', { class: 'btn btn-small btn-ghost btn-danger', type: 'button', onclick: ask }, 'Delete'));
    offer();
    return h(
      'li',
      { class: 'chat-row chat-unreadable', 'data-id': id },
      h('div', { class: 'chat-open', title: why }, h('span', { class: 'chat-title' }, 'A chat that cannot be read'), h('span', { class: 'chat-meta' }, why)),
      actions,
    );
  }
}
