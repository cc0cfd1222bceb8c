/**
 * On narrow screens the settings panel slides over the chat; on wide ones it is a column and
 * the toggle is hidden by CSS. Focus moves into the panel and back, so keyboard users can follow.
 */
export interface Drawer {
  readonly open: boolean;
  close(): void;
}

export function installDrawer(panel: HTMLElement, toggle: HTMLElement, backdrop: HTMLElement): Drawer {
  let open = false;
  const set = (v: boolean) => {
    open = v;
    panel.classList.toggle('open', v);
    backdrop.hidden = !v;
    toggle.setAttribute('aria-expanded', String(v));
    if (v) panel.querySelector<HTMLElement>('textarea, input, select, button')?.focus();
    else toggle.focus({ preventScroll: true });
  };
  toggle.addEventListener('click', () => set(!open));
  backdrop.addEventListener('click', () => set(false));
  panel.querySelector('[data-action="close-side"]')?.addEventListener('click', () => set(false));
  return {
    get open() {
      return open;
    },
    close: () => set(false),
  };
}
