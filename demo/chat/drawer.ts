/**
 * On narrow screens the chat list and the settings panel slide over the chat; on wide ones they
 * are columns and their toggles are hidden by CSS. One backdrop serves both, and opening one
 * closes the other, so a tap on the backdrop always has a single thing to close. Focus moves into
 * the panel and back, so keyboard users can follow.
 */
export interface Drawer {
  readonly open: boolean;
  show(): void;
  close(): void;
}

export interface DrawerSpec {
  panel: HTMLElement;
  toggle: HTMLElement;
  /** What takes the focus when the panel opens; default its first control. */
  focus?: () => HTMLElement | null;
}

export function installDrawers(backdrop: HTMLElement, specs: DrawerSpec[]): Drawer[] {
  const states = specs.map(() => false);
  const set = (i: number, v: boolean, restoreFocus = true) => {
    if (states[i] === v) return;
    const { panel, toggle, focus } = specs[i]!;
    if (v) states.forEach((open, j) => open && set(j, false, false));
    states[i] = v;
    panel.classList.toggle('open', v);
    backdrop.hidden = !states.some((s) => s);
    toggle.setAttribute('aria-expanded', String(v));
    if (v) (focus?.() ?? panel.querySelector<HTMLElement>('textarea, input, select, button'))?.focus();
    else if (restoreFocus) toggle.focus({ preventScroll: true });
  };
  specs.forEach(({ panel, toggle }, i) => {
    toggle.addEventListener('click', () => set(i, !states[i]));
    panel.querySelector('[data-action="close-drawer"]')?.addEventListener('click', () => set(i, false));
  });
  backdrop.addEventListener('click', () => states.forEach((open, i) => open && set(i, false)));
  return specs.map((_, i) => ({
    get open() {
      return states[i]!;
    },
    show: () => set(i, true),
    close: () => set(i, false),
  }));
}
