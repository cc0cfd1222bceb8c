// The self-contained GPU bench (`npm run bench -- --bundle DIR`), as a GPU machine gets it: built,
// copied away from the repository, and run with an empty environment (no node_modules, no PATH to
// this checkout's Node), here on SwiftShader, on a small model it generates itself.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeBundle } from '../../bench/bundle.js';
import type { GpuBenchReport } from '../../bench/gpu.js';

const ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

describe('GPU bench bundle', () => {
  const root = mkdtempSync(join(tmpdir(), 'hearth-bundle-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('is under 60 MB and runs offline with one command, writing its JSON report', async () => {
    const built = await writeBundle(join(root, 'built'));
    expect(built.bytes).toBeLessThan(60e6);
    for (const f of ['run.sh', 'bench.mjs', 'node.gz', 'node_modules/webgpu/index.js', 'node_modules/webgpu/dist/linux-x64/dawn.node.gz', 'README.txt']) {
      expect(built.files.map((x) => x.path)).toContain(f);
    }
    const dir = join(root, 'elsewhere');
    cpSync(built.dir, dir, { recursive: true });
    const out = execFileSync(join(dir, 'run.sh'), ['--quick', '--models', 'smollm2', '--formats', 'Q4_0', '--prompt', '2', '--decode', '2', '--repeats', '1'], {
      cwd: root,
      env: { PATH: '/usr/bin:/bin', HOME: root, VK_ICD_FILENAMES: ICD },
      encoding: 'utf8',
      timeout: 240_000,
    });
    expect(out).toMatch(/SmolLM2-135M\s+Q4_0/);
    const results = readdirSync(join(dir, 'results'));
    expect(results).toHaveLength(1);
    const report = JSON.parse(readFileSync(join(dir, 'results', results[0]!), 'utf8')) as GpuBenchReport;
    expect(report.cpuAdapter).toBe(true);
    expect(report.roofline.readGBps).toBeGreaterThan(0);
    const [r] = report.results;
    if (!r || 'error' in r) throw new Error(`the bench failed: ${JSON.stringify(r)}`);
    expect(r.decodeTokPerS.median).toBeGreaterThan(0);
    expect(r.prefillTokPerS.median).toBeGreaterThan(0);
    expect(r.dispatchesPerToken).toBeGreaterThan(0);
    expect(r.weightBytes / r.fileBytes).toBeLessThanOrEqual(1.05);
    // the model was generated where the bench ran
    expect(existsSync(join(dir, 'models'))).toBe(true);
  }, 300_000);
});
