/**
 * The header every demo page shares: the Hearth mark, links to the chat and the kernel lab, and
 * a slot on the right for the page's own controls. Styles live in hearth.css.
 */
export type SitePage = 'chat' | 'lab';

const FLAME =
  '<svg viewBox="0 0 24 24" aria-hidden="true" fill="currentColor"><path d="M12 2c.5 3-1.2 4.9-2.8 6.7C7.6 10.5 6 12.3 6 15a6 6 0 0 0 12 0c0-2.4-1.1-4.3-2.3-5.8-.3 1.4-1 2.5-2.2 3.1.4-3.6-.6-7.3-1.5-10.3Zm0 18a3 3 0 0 1-3-3c0-1.7 1.3-2.8 2.3-4 .4 1.2 1.1 2 2 2.6.9.6 1.7 1.3 1.7 2.4a3 3 0 0 1-3 2Z"/></svg>';

/** Fill `el` (a <header>) with the site header; returns the right-hand slot. */
export function mountSiteHeader(el: HTMLElement, active: SitePage): HTMLElement {
  el.classList.add('site-header');
  el.innerHTML = `
    <a class="site-brand" href="./">${FLAME}<span>Hearth</span></a>
    <nav class="site-nav" aria-label="Pages">
      <a href="./"${active === 'chat' ? ' aria-current="page"' : ''}>Chat</a>
      <a href="./lab.html"${active === 'lab' ? ' aria-current="page"' : ''}>Kernel lab</a>
    </nav>
    <div class="site-header-extra"></div>`;
  return el.querySelector<HTMLElement>('.site-header-extra')!;
}
