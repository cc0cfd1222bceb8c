/**
 * A fixed-seed sample of `npm run fuzz` (test/fuzz): a few hundred mutated model files, session
 * files and request bodies through the public entry points; each must run or fail with a
 * HearthError. The full run (10,000+ cases, crash and hang detection in a child process) is
 * `npm run fuzz`; its findings are regression tests here and in loader-limits / api-requests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeFuzzContext, KINDS, openFuzzContext, runCase, type CaseResult, type FuzzContext } from '../fuzz/fuzz.js';

const SEED = 20260516;
const CASES = 300;

let f: FuzzContext;
beforeAll(async () => {
  f = await openFuzzContext();
}, 60_000);
afterAll(async () => {
  if (f) await closeFuzzContext(f);
});

describe('fuzz sample', () => {
  it(`${CASES} cases of seed ${SEED}: every outcome is "ran" or a typed error`, async () => {
    const results: CaseResult[] = [];
    for (let i = 0; i < CASES; i++) results.push(await runCase(f, SEED, i, 20_000));
    const bad = results.filter((r) => r.outcome !== 'ran' && r.outcome !== 'typed');
    expect(bad.map((r) => `case ${r.index} (${r.kind}, reproduce: npm run fuzz -- --seed ${SEED} --from ${r.index} --cases 1): ${r.outcome} ${r.mutation} ${r.error}`)).toEqual([]);
    // the sample covers every kind, and some cases of each get through to generation or fail typed
    for (const k of KINDS) expect(results.filter((r) => r.kind === k).length, k).toBeGreaterThan(10);
    expect(results.filter((r) => r.outcome === 'ran').length).toBeGreaterThan(20);
  }, 180_000);

  it('the same seed and index give the same case', async () => {
    const a = await runCase(f, SEED, 7, 20_000);
    const b = await runCase(f, SEED, 7, 20_000);
    expect([b.kind, b.mutation, b.outcome, b.code]).toEqual([a.kind, a.mutation, a.outcome, a.code]);
  });
});
