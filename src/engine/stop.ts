/**
 * Stop strings over a token stream. Text is held back while it could still be the start of a
 * stop string, so a stop string split across tokens stops generation and is never emitted.
 */
export class StopStringMatcher {
  private held = '';

  constructor(private readonly stops: readonly string[]) {}

  /** Feed newly decoded text; returns what may be emitted now and whether a stop string was hit. */
  push(text: string): { emit: string; stopped: boolean } {
    this.held += text;
    if (!this.stops.length) {
      const emit = this.held;
      this.held = '';
      return { emit, stopped: false };
    }
    let first = -1;
    for (const s of this.stops) {
      const i = this.held.indexOf(s);
      if (i >= 0 && (first < 0 || i < first)) first = i;
    }
    if (first >= 0) {
      const emit = this.held.slice(0, first);
      this.held = '';
      return { emit, stopped: true };
    }
    // keep the longest suffix that is a proper prefix of some stop string
    let keep = 0;
    for (const s of this.stops) {
      for (let n = Math.min(s.length - 1, this.held.length); n > keep; n--) {
        if (this.held.endsWith(s.slice(0, n))) {
          keep = n;
          break;
        }
      }
    }
    const emit = this.held.slice(0, this.held.length - keep);
    this.held = this.held.slice(this.held.length - keep);
    return { emit, stopped: false };
  }

  /** At the end of generation, whatever was held back is real output. */
  flush(): string {
    const t = this.held;
    this.held = '';
    return t;
  }
}
