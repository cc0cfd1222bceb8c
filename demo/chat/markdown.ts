/**
 * Model output as Markdown, safely and cheaply while it streams.
 *
 * Safety: the HTML goes through DOMPurify, and anything that would fetch (images, media, frames,
 * inline styles with url()) is removed, because a reply that loads an image from a server would
 * tell that server what the user is chatting about.
 *
 * Cost: re-rendering the whole reply on every token grows with its length squared. Finished
 * blocks (up to the last blank line outside a code fence) are rendered once and kept; only the
 * unfinished tail is re-rendered, at most once per animation frame. When the reply ends the
 * whole text is rendered once more, so the result is exactly what marked makes of it.
 */
import { Marked } from 'marked';
import DOMPurify from 'dompurify';
import { stableSplit } from './stable-split.js';

const marked = new Marked({ gfm: true, breaks: true, async: false });

const purify = DOMPurify();
purify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A') {
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer nofollow');
  }
});

const FORBID_TAGS = ['img', 'picture', 'source', 'video', 'audio', 'track', 'iframe', 'object', 'embed', 'link', 'style', 'form', 'input', 'button', 'svg', 'math'];
const FORBID_ATTR = ['style', 'src', 'srcset', 'background', 'poster', 'action', 'formaction'];

export function renderMarkdown(text: string): string {
  const html = marked.parse(text) as string;
  return purify.sanitize(html, { FORBID_TAGS, FORBID_ATTR });
}

export class StreamingMarkdown {
  private readonly done: HTMLElement;
  private readonly tail: HTMLElement;
  private doneUpTo = 0;
  private text = '';
  private frame = 0;

  /** `el` keeps what it shows (a typing indicator) until the first text arrives. */
  constructor(private readonly el: HTMLElement) {
    this.done = document.createElement('div');
    this.tail = document.createElement('div');
    this.done.className = this.tail.className = 'md-part';
  }

  /** The reply so far; rendered on the next frame. */
  update(text: string): void {
    this.text = text;
    this.frame ||= requestAnimationFrame(() => {
      this.frame = 0;
      this.renderStreaming();
    });
  }

  /** The reply is complete (or stopped): render it whole, once. */
  finish(text: string = this.text): void {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
    this.text = text;
    this.el.innerHTML = renderMarkdown(text);
  }

  private renderStreaming(): void {
    if (this.tail.parentNode !== this.el) this.el.replaceChildren(this.done, this.tail);
    const split = stableSplit(this.text);
    if (split > this.doneUpTo) {
      const block = document.createElement('div');
      block.className = 'md-block';
      block.innerHTML = renderMarkdown(this.text.slice(this.doneUpTo, split));
      this.done.append(block);
      this.doneUpTo = split;
    }
    this.tail.innerHTML = renderMarkdown(this.text.slice(this.doneUpTo));
  }
}
