/**
 * How a KV cache holds its values, on the GPU (kernels/kv_append.ts) and in stored sessions
 * (sessions/kv-codec.ts): 'f32'; 'f16' with two halves packed in a u32 (packed and unpacked with
 * pack2x16float / unpack2x16float: no shader-f16 needed), half the memory and reads; 'q8', blocks
 * of a head's row as int8 with one f32 scale each (quant/kv-q8.ts), about 0.28x f32's memory and
 * reads (1.125 bytes per value at 32-value blocks).
 */
export type KvFormat = 'f32' | 'f16' | 'q8';
export const KV_FORMATS: readonly KvFormat[] = ['f32', 'f16', 'q8'];
