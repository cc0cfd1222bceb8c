import { HearthError } from '../errors.js';
import type { ByteSource } from '../hub/byte-source.js';

/**
 * Sequential little-endian reads over a ByteSource, fetched in chunks as the cursor advances:
 * a GGUF header's vocabulary can be megabytes, its tensor data gigabytes, and only the first
 * part may be read.
 */
export class ChunkedReader {
  private buf = new Uint8Array(0);
  private view = new DataView(this.buf.buffer);
  /** File offset of buf[0]. */
  private bufStart = 0;
  /** Cursor, relative to buf. */
  private at = 0;
  private readonly decoder = new TextDecoder('utf-8');

  constructor(
    private readonly src: ByteSource,
    readonly fileSize: number,
    /** What is being parsed, for errors: 'GGUF header of model.gguf'. */
    private readonly what: string,
    private readonly signal?: AbortSignal,
    private readonly chunkSize = 1 << 20,
  ) {}

  /** Absolute file offset of the cursor. */
  get offset(): number {
    return this.bufStart + this.at;
  }

  get remaining(): number {
    return this.fileSize - this.offset;
  }

  has(n: number): boolean {
    return this.at + n <= this.buf.byteLength;
  }

  /** Makes the next n bytes available for the sync readers. */
  async fill(n: number): Promise<void> {
    if (this.has(n)) return;
    const start = this.offset;
    if (start + n > this.fileSize) {
      throw new HearthError('TRUNCATED_FILE', `The ${this.what} is truncated: it needs bytes up to ${start + n}, but the file has ${this.fileSize}.`, {
        hint: 'The file is incomplete or damaged: download it again.',
        details: { needed: start + n, size: this.fileSize },
      });
    }
    const kept = this.buf.subarray(this.at);
    const want = Math.min(this.fileSize - start, Math.max(n, this.chunkSize));
    const fresh = await this.src.read(start + kept.byteLength, want - kept.byteLength, this.signal);
    const next = new Uint8Array(want);
    next.set(kept, 0);
    next.set(fresh, kept.byteLength);
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.byteLength);
    this.bufStart = start;
    this.at = 0;
  }

  // Sync readers: the caller has called fill() for at least their size.
  u8(): number {
    return this.view.getUint8(this.at++);
  }
  i8(): number {
    return this.view.getInt8(this.at++);
  }
  u16(): number {
    const v = this.view.getUint16(this.at, true);
    this.at += 2;
    return v;
  }
  i16(): number {
    const v = this.view.getInt16(this.at, true);
    this.at += 2;
    return v;
  }
  u32(): number {
    const v = this.view.getUint32(this.at, true);
    this.at += 4;
    return v;
  }
  i32(): number {
    const v = this.view.getInt32(this.at, true);
    this.at += 4;
    return v;
  }
  u64(): bigint {
    const v = this.view.getBigUint64(this.at, true);
    this.at += 8;
    return v;
  }
  i64(): bigint {
    const v = this.view.getBigInt64(this.at, true);
    this.at += 8;
    return v;
  }
  f32(): number {
    const v = this.view.getFloat32(this.at, true);
    this.at += 4;
    return v;
  }
  f64(): number {
    const v = this.view.getFloat64(this.at, true);
    this.at += 8;
    return v;
  }
  utf8(n: number): string {
    const s = this.decoder.decode(this.buf.subarray(this.at, this.at + n));
    this.at += n;
    return s;
  }

  skipTo(offset: number): void {
    this.at = offset - this.bufStart;
  }
}
