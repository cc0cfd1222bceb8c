/**
 * The import graph follows shared/DESIGN.md's flow: hub, formats, quant, tokenizer, audio, gpu, kernels,
 * models, engine, api, sessions, then the entry points; errors and util are leaves any step may
 * import; reference/ (the test oracle) is imported by no production code but the kernel lab.
 * Every relative import in src/ is checked; a planted backwards import is shown to fail.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const SRC = resolve(new URL('../../src', import.meta.url).pathname);

/** Steps in the order data flows; a module may import from its own step or an earlier one. */
const FLOW = ['hub', 'formats', 'quant', 'tokenizer', 'audio', 'gpu', 'kernels', 'models', 'engine', 'api', 'sessions'];
/** Entry points: they may import any step, and each other. */
const ENTRIES = new Set(['worker', 'client', 'node', 'cli', 'transcribe-cli', 'serve', 'index', 'lab']);
/** Leaves: importable from anywhere, importing nothing but leaves. */
const LEAVES = new Set(['errors', 'util', 'wgsl.d']);

/** The step a file under src/ belongs to: its top folder, or its own name at the top. */
export function stepOf(file: string): string {
  const rel = relative(SRC, file);
  return rel.includes('/') ? rel.split('/')[0]! : rel.replace(/\.ts$/, '');
}

/** Why `from` may not import `to`, or null when it may. */
export function violation(from: string, to: string): string | null {
  if (from === to) return null;
  if (to === 'reference') return from === 'lab' ? null : `${from} imports the test oracle reference/`;
  if (from === 'reference') return null; // the oracle may use what it checks
  if (LEAVES.has(from)) return LEAVES.has(to) ? null : `leaf ${from} imports ${to}`;
  if (LEAVES.has(to)) return null;
  if (ENTRIES.has(from)) return null;
  if (ENTRIES.has(to)) return `${from} imports the entry point ${to}`;
  const a = FLOW.indexOf(from);
  const b = FLOW.indexOf(to);
  if (a < 0 || b < 0) return `${a < 0 ? from : to} is not a step of the flow (add it to FLOW in this test and to DESIGN.md)`;
  return b > a ? `${from} imports ${to}, which comes after it` : null;
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Every relative import and re-export (type-only ones too) of a file: [imported file, line]. */
export function importsOf(file: string, text = readFileSync(file, 'utf8')): [string, string][] {
  const out: [string, string][] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+['"](\.{1,2}\/[^'"]+)['"]|^\s*import\s+['"](\.{1,2}\/[^'"]+)['"]|\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/gm)) {
    const spec = m[1] ?? m[2] ?? m[3]!;
    out.push([resolve(dirname(file), spec.replace(/\.js$/, '.ts').replace(/\?raw$/, '')), m[0].trim().split('\n')[0]!]);
  }
  return out;
}

function violations(files: string[], read: (f: string) => string): string[] {
  const bad: string[] = [];
  for (const f of files) {
    for (const [target, line] of importsOf(f, read(f))) {
      if (!target.startsWith(SRC + '/')) continue; // shaders/*.wgsl and packages
      const why = violation(stepOf(f), stepOf(target));
      if (why) bad.push(`${relative(SRC, f)}: ${why} (${line})`);
    }
  }
  return bad;
}

describe('layering', () => {
  const files = sources(SRC);

  it('every import in src/ follows the flow of DESIGN.md', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(violations(files, (f) => readFileSync(f, 'utf8'))).toEqual([]);
  });

  it('fails on a planted backwards import (kernels importing the engine, formats importing the oracle)', () => {
    const planted = join(SRC, 'kernels', 'matmul.ts');
    const plantedToo = join(SRC, 'formats', 'gguf.ts');
    const read = (f: string) =>
      f === planted ? `import { Engine } from '../engine/engine.js';\n${readFileSync(f, 'utf8')}` : f === plantedToo ? `import type { X } from '../reference/quant.js';\n${readFileSync(f, 'utf8')}` : readFileSync(f, 'utf8');
    const bad = violations(files, read);
    expect(bad).toContain("kernels/matmul.ts: kernels imports engine, which comes after it (import { Engine } from '../engine/engine.js')");
    expect(bad).toContain("formats/gguf.ts: formats imports the test oracle reference/ (import type { X } from '../reference/quant.js')");
  });
});
