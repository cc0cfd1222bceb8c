/**
 * The benchmark harness end to end at its smallest (`npm run bench -- --tiny`), so it never rots:
 * Node kernels and a whole model on Dawn, then in headless Chromium our ops against ONNX Runtime
 * Web and stories260K against wllama, then the JSON and the reports.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBench } from '../../bench/run.js';

describe('benchmark harness', () => {
  it('runs a tiny benchmark and writes the JSON, Markdown and HTML reports', async () => {
    const out = mkdtempSync(join(tmpdir(), 'hearth-bench-'));
    try {
      const { run, files } = await runBench({ mode: 'tiny', skip: [], out, log: () => {} });
      expect(files).toHaveLength(3);
      const json = JSON.parse(readFileSync(files[0]!, 'utf8')) as typeof run;

      expect(json.node?.error).toBeUndefined();
      expect(json.node!.roofline.readGBps.median).toBeGreaterThan(0);
      expect(json.node!.kernels!.matmul[0]!.gemv.ms.median).toBeGreaterThan(0);
      expect(json.node!.kernels!.attention).toHaveLength(1);
      const model = json.node!.models!.results[0]!;
      expect(model.model).toBe('stories260K');
      expect(model.decodeTokPerS.n).toBe(2);
      expect(model.dispatchesPerToken).toBeGreaterThan(0);

      const b = json.browser!;
      if ('error' in b) throw new Error(b.error);
      expect(b.requests.outside).toEqual([]);
      expect(b.ort[0]!.version).toMatch(/^\d+\.\d+/);
      const gemv = b.ops.find((c) => c.op === 'gemv')!;
      expect('wallMs' in gemv.ours).toBe(true);
      // ORT's result may be an error on some adapters, but it is always recorded, never thrown
      expect('wallMs' in gemv.theirs || 'error' in gemv.theirs).toBe(true);
      const stories = b.models[0]!;
      expect('decodeTokPerS' in stories.ours).toBe(true);
      expect('backend' in stories.wllama || 'error' in stories.wllama).toBe(true);

      const md = readFileSync(files[1]!, 'utf8');
      expect(md).toContain('## Ops: Hearth vs ONNX Runtime Web');
      expect(md).toContain('## Models: Hearth vs wllama');
      expect(md).toContain('| stories260K | F32 |');
      expect(readFileSync(files[2]!, 'utf8')).toContain('<table>');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 180_000);
});
