/**
 * GPU time of someone else's WebGPU work, from the outside. ONNX Runtime's C++ WebGPU provider has
 * no per-kernel profiler reachable from JS, so we hand it a device of ours and wrap that device's
 * createCommandEncoder: while timing, every compute pass an encoder begins gets a begin/end
 * timestamp pair (unless it brought its own), and the encoder resolves its pairs as it finishes.
 * Our kernels are timed with the same pass-level timestamps (GpuProfiler), so both sides are
 * measured alike.
 */
const QUERY_RESOLVE = 0x200;
const COPY_SRC = 0x04;
const COPY_DST = 0x08;
const MAP_READ = 0x01;
/** Queries per query set (WebGPU's maximum) and per encoder (32 passes; a multiple of 32 keeps resolve offsets 256-aligned). */
const SET_SIZE = 4096;
const BLOCK = 64;

export interface PassTiming {
  /** Sum of all timed passes, ms. */
  ms: number;
  passes: number;
  /** Passes left untimed (an encoder with more than 32 passes). */
  untimed: number;
  /** By pass label (or its last pipeline's label, or 'compute'), ms. */
  byLabel: Record<string, number>;
}

interface Slot {
  set: number;
  index: number;
  label: string;
}

export class PassTimer {
  private sets: { qs: GPUQuerySet; resolve: GPUBuffer }[] = [];
  private nextBlock = 0;
  private slots: Slot[] = [];
  private untimed = 0;
  private active = false;

  constructor(private device: GPUDevice) {
    const create = device.createCommandEncoder.bind(device);
    device.createCommandEncoder = (desc?: GPUCommandEncoderDescriptor) => {
      const enc = create(desc);
      if (this.active) this.wrap(enc);
      return enc;
    };
  }

  private block(): { set: number; first: number } {
    const perSet = SET_SIZE / BLOCK;
    const set = Math.floor(this.nextBlock / perSet);
    const first = (this.nextBlock % perSet) * BLOCK;
    this.nextBlock++;
    while (this.sets.length <= set) {
      this.sets.push({
        qs: this.device.createQuerySet({ type: 'timestamp', count: SET_SIZE }),
        resolve: this.device.createBuffer({ size: SET_SIZE * 8, usage: QUERY_RESOLVE | COPY_SRC }),
      });
    }
    return { set, first };
  }

  private wrap(enc: GPUCommandEncoder): void {
    let range: { set: number; first: number } | null = null;
    let used = 0;
    const begin = enc.beginComputePass.bind(enc);
    enc.beginComputePass = (desc?: GPUComputePassDescriptor) => {
      if (desc?.timestampWrites) return begin(desc);
      if (used + 2 > BLOCK) {
        this.untimed++;
        return begin(desc);
      }
      range ??= this.block();
      const index = range.first + used;
      used += 2;
      const slot: Slot = { set: range.set, index, label: desc?.label || 'compute' };
      this.slots.push(slot);
      const pass = begin({ ...desc, timestampWrites: { querySet: this.sets[range.set]!.qs, beginningOfPassWriteIndex: index, endOfPassWriteIndex: index + 1 } });
      if (!desc?.label) {
        const setPipeline = pass.setPipeline.bind(pass);
        pass.setPipeline = (p: GPUComputePipeline) => {
          if (p.label) slot.label = p.label;
          setPipeline(p);
        };
      }
      return pass;
    };
    const finish = enc.finish.bind(enc);
    enc.finish = (d?: GPUCommandBufferDescriptor) => {
      if (range && used) enc.resolveQuerySet(this.sets[range.set]!.qs, range.first, used, this.sets[range.set]!.resolve, range.first * 8);
      return finish(d);
    };
  }

  start(): void {
    this.nextBlock = 0;
    this.slots = [];
    this.untimed = 0;
    this.active = true;
  }

  /** Stop timing new encoders; once their work has drained, read the times back. */
  async stop(): Promise<PassTiming> {
    this.active = false;
    await this.device.queue.onSubmittedWorkDone();
    const byLabel: Record<string, number> = {};
    let ms = 0;
    const bySet = new Map<number, Slot[]>();
    for (const s of this.slots) bySet.set(s.set, [...(bySet.get(s.set) ?? []), s]);
    for (const [set, slots] of bySet) {
      const read = this.device.createBuffer({ size: SET_SIZE * 8, usage: MAP_READ | COPY_DST });
      const enc = this.device.createCommandEncoder();
      enc.copyBufferToBuffer(this.sets[set]!.resolve, 0, read, 0, SET_SIZE * 8);
      this.device.queue.submit([enc.finish()]);
      await read.mapAsync(MAP_READ);
      const ts = new BigUint64Array(read.getMappedRange().slice(0));
      read.unmap();
      read.destroy();
      for (const s of slots) {
        const t = Math.max(0, Number(ts[s.index + 1]! - ts[s.index]!)) / 1e6;
        ms += t;
        byLabel[s.label] = (byLabel[s.label] ?? 0) + t;
      }
    }
    return { ms, passes: this.slots.length, untimed: this.untimed, byLabel };
  }
}
