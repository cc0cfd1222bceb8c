/**
 * SHA-256 (FIPS 180-4) fed incrementally. WebCrypto only digests a whole buffer at once, and a
 * weight file is far too big for one buffer; this hashes a download chunk by chunk as it arrives,
 * and its state can be saved so that a resumed download does not re-read what it already stored.
 */

/** The first 32 bits of the fractional parts of the square roots (H0) and cube roots (K) of the first primes. */
function fractionBits(count: number, root: (p: number) => number): Int32Array {
  // Int32Array, not Uint32Array: words above 2^31 would leave V8's small-integer fast path
  const out = new Int32Array(count);
  let found = 0;
  for (let n = 2; found < count; n++) {
    let prime = true;
    for (let d = 2; d * d <= n; d++) {
      if (n % d === 0) {
        prime = false;
        break;
      }
    }
    if (!prime) continue;
    const r = root(n);
    out[found++] = Math.floor((r - Math.floor(r)) * 2 ** 32) | 0;
  }
  return out;
}

const H0 = fractionBits(8, Math.sqrt);
const K = fractionBits(64, Math.cbrt);

/** A resumable point in a hash: only taken on a 64-byte block boundary, so no partial block to carry. */
export interface Sha256State {
  h: number[];
  bytes: number;
}

export class Sha256 {
  private readonly h = new Int32Array(8);
  private readonly w = new Int32Array(64);
  private readonly block = new Uint8Array(64);
  private blockLen = 0;
  private total = 0;

  constructor(state?: Sha256State) {
    if (state) {
      if (state.h.length !== 8 || state.bytes % 64 !== 0) throw new RangeError('Invalid saved SHA-256 state.');
      this.h.set(state.h);
      this.total = state.bytes;
    } else {
      this.h.set(H0);
    }
  }

  /** Bytes hashed so far. */
  get bytes(): number {
    return this.total;
  }

  update(data: Uint8Array): this {
    let i = 0;
    const n = data.byteLength;
    this.total += n;
    if (this.blockLen > 0) {
      const take = Math.min(64 - this.blockLen, n);
      this.block.set(data.subarray(0, take), this.blockLen);
      this.blockLen += take;
      i = take;
      if (this.blockLen < 64) return this;
      this.compress(this.block, 0);
      this.blockLen = 0;
    }
    for (; i + 64 <= n; i += 64) this.compress(data, i);
    if (i < n) {
      this.block.set(data.subarray(i), 0);
      this.blockLen = n - i;
    }
    return this;
  }

  /** The state to resume from, or null when a partial block is pending. */
  save(): Sha256State | null {
    return this.blockLen === 0 ? { h: [...this.h].map((x) => x >>> 0), bytes: this.total } : null;
  }

  /** Lowercase hex digest. The hasher is spent afterwards. */
  hex(): string {
    const bits = this.total * 8;
    const pad = new Uint8Array((this.blockLen < 56 ? 56 : 120) - this.blockLen + 8);
    pad[0] = 0x80;
    // the message length as a 64-bit big-endian bit count; past 2^53 bits no file reaches
    const view = new DataView(pad.buffer);
    view.setUint32(pad.length - 8, Math.floor(bits / 2 ** 32));
    view.setUint32(pad.length - 4, bits >>> 0);
    const total = this.total;
    this.update(pad);
    this.total = total;
    let s = '';
    for (const word of this.h) s += (word >>> 0).toString(16).padStart(8, '0');
    return s;
  }

  /** One 64-byte block at d[at]. (A loop over many blocks inside one call measured slower in V8.) */
  private compress(d: Uint8Array, at: number): void {
    const w = this.w;
    for (let t = 0; t < 16; t++) {
      const j = at + t * 4;
      w[t] = (d[j]! << 24) | (d[j + 1]! << 16) | (d[j + 2]! << 8) | d[j + 3]!;
    }
    for (let t = 16; t < 64; t++) {
      const x = w[t - 15]!;
      const y = w[t - 2]!;
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[t] = (w[t - 16]! + s0 + w[t - 7]! + s1) | 0;
    }
    const h = this.h;
    let a = h[0]!, b = h[1]!, c = h[2]!, d3 = h[3]!, e = h[4]!, f = h[5]!, g = h[6]!, h7 = h[7]!;
    for (let t = 0; t < 64; t++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (h7 + S1 + ch + K[t]! + w[t]!) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & b) ^ (a & c) ^ (b & c);
      h7 = g;
      g = f;
      f = e;
      e = (d3 + t1) | 0;
      d3 = c;
      c = b;
      b = a;
      a = (t1 + S0 + maj) | 0;
    }
    h[0] = (h[0]! + a) | 0;
    h[1] = (h[1]! + b) | 0;
    h[2] = (h[2]! + c) | 0;
    h[3] = (h[3]! + d3) | 0;
    h[4] = (h[4]! + e) | 0;
    h[5] = (h[5]! + f) | 0;
    h[6] = (h[6]! + g) | 0;
    h[7] = (h[7]! + h7) | 0;
  }
}

export function sha256Hex(data: Uint8Array): string {
  return new Sha256().update(data).hex();
}
