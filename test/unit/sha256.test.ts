import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Sha256, sha256Hex } from '../../src/hub/sha256.js';

const ref = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe('sha256', () => {
  it('matches the FIPS 180-4 examples', () => {
    const enc = new TextEncoder();
    expect(sha256Hex(enc.encode('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256Hex(new Uint8Array(0))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('matches node:crypto for every length around the padding boundaries, fed in odd pieces', () => {
    const data = new Uint8Array(300).map((_, i) => (i * 131 + 7) & 255);
    for (let n = 0; n <= 200; n++) {
      const h = new Sha256();
      for (let i = 0; i < n; i += 13) h.update(data.subarray(i, Math.min(n, i + 13)));
      expect(h.hex()).toBe(ref(data.subarray(0, n)));
    }
  });

  it('resumes from a saved state', () => {
    const data = new Uint8Array(10_000).map((_, i) => (i * 7919) & 255);
    const a = new Sha256().update(data.subarray(0, 4096));
    const saved = a.save();
    expect(saved).not.toBeNull();
    const b = new Sha256(JSON.parse(JSON.stringify(saved)));
    expect(b.update(data.subarray(4096)).hex()).toBe(ref(data));
    expect(new Sha256().update(data.subarray(0, 100)).save()).toBeNull();
  });

  it('hashes a buffer larger than a download piece', () => {
    const data = new Uint8Array(8 << 20).map((_, i) => i % 251);
    const t = performance.now();
    const got = sha256Hex(data);
    const mbps = 8 / ((performance.now() - t) / 1000);
    expect(got).toBe(ref(data));
    console.log(`sha256: ${mbps.toFixed(0)} MB/s`);
  });
});
