/**
 * API keys: `Authorization: Bearer KEY`, compared in constant time. Each key and the presented
 * token are hashed (SHA-256) first, so crypto.timingSafeEqual compares equal-length digests and
 * neither a key's length nor the position of a first differing byte shows in the timing; every
 * key is compared, with no early exit.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { HearthError } from '../errors.js';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export class ApiKeys {
  private readonly digests: Buffer[];

  constructor(keys: readonly string[]) {
    for (const k of keys) {
      if (typeof k !== 'string' || k.length < 8 || /\s/.test(k)) {
        throw new HearthError('INVALID_ARGUMENT', 'An API key must be at least 8 characters with no spaces.', { hint: 'Generate one with: openssl rand -hex 32' });
      }
    }
    this.digests = keys.map(digest);
  }

  get enabled(): boolean {
    return this.digests.length > 0;
  }

  /**
   * The index of the key an Authorization header carries (-1 when keys are off); UNAUTHORIZED
   * when keys are on and the header is missing, malformed or carries no key of ours.
   */
  check(header: string | undefined): number {
    if (!this.enabled) return -1;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    if (!m) {
      throw new HearthError('UNAUTHORIZED', "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).", {
        hint: 'Start the client with the key given to the server with --api-key.',
      });
    }
    const d = digest(m[1]!);
    let found = -1;
    this.digests.forEach((k, i) => {
      if (timingSafeEqual(k, d) && found < 0) found = i;
    });
    if (found < 0) throw new HearthError('UNAUTHORIZED', 'Incorrect API key provided.', { hint: 'Use a key given to the server with --api-key.' });
    return found;
  }

  /** A short, stable, non-secret name of key i (sessions record it as their owner). */
  owner(i: number): string {
    return i < 0 ? '' : this.digests[i]!.toString('hex').slice(0, 16);
  }
}
