/**
 * npm run fuzz -- [--seed N] [--cases N] [--from I] [--kind k,k] [--timeout MS] [--report FILE]
 *
 * Runs the cases in a child process and watches it: a case that crashes the process (out of
 * memory, a native abort) or hangs it synchronously is reported with its seed and index, and the
 * run goes on from the next case. Reproduce one case: --seed N --from I --cases 1.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { closeFuzzContext, KINDS, kindOf, openFuzzContext, runCase, summarize, type CaseResult, type Kind } from './fuzz.js';

const { values: v } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    cases: { type: 'string', default: '10000' },
    from: { type: 'string', default: '0' },
    kind: { type: 'string' },
    timeout: { type: 'string', default: '20000' },
    report: { type: 'string' },
    child: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
  },
});
const seed = Number(v.seed);
const cases = Number(v.cases);
const from = Number(v.from);
const timeoutMs = Number(v.timeout);
const kinds = (v.kind ? v.kind.split(',') : [...KINDS]) as Kind[];
for (const k of kinds) if (!KINDS.includes(k)) throw new Error(`unknown kind ${k}; kinds: ${KINDS.join(', ')}`);

if (v.child) await child();
else await parent();

/** Runs cases [from, from + cases), one JSON line per event on stdout. */
async function child(): Promise<void> {
  const f = await openFuzzContext();
  const say = (x: unknown) => process.stdout.write(`${JSON.stringify(x)}\n`);
  say({ ready: true });
  for (let i = from; i < from + cases; i++) {
    say({ start: i });
    const r = await runCase(f, seed, i, timeoutMs, kinds);
    say({ result: r });
  }
  await closeFuzzContext(f);
  process.exit(0);
}

async function parent(): Promise<void> {
  const t0 = performance.now();
  const results: CaseResult[] = [];
  let next = from;
  const end = from + cases;
  while (next < end) {
    next = await runChild(next, end, results);
  }
  const s = summarize(seed, results, performance.now() - t0);
  const failures = s.failures;
  console.log(`\nfuzz seed ${seed}: ${s.cases} cases in ${(s.ms / 1000).toFixed(0)} s`);
  console.table(s.byKind);
  console.table(s.byCode);
  for (const x of failures) console.log(`FAIL ${x.outcome} ${x.kind} case ${x.index} (reproduce: npm run fuzz -- --seed ${seed} --from ${x.index} --cases 1${v.kind ? ` --kind ${v.kind}` : ''})\n  ${x.mutation}\n  ${x.error ?? ''}`);
  if (v.report) writeFileSync(v.report, JSON.stringify(s, null, 2));
  process.exit(failures.length ? 1 : 0);
}

/** One child from `start`; resolves with where the next child should start. */
function runChild(start: number, end: number, results: CaseResult[]): Promise<number> {
  return new Promise((resolve) => {
    const args = ['--max-old-space-size=3072', '--import', 'tsx', '--import', './scripts/register-raw.mjs', 'test/fuzz/cli.ts', '--child', '--seed', String(seed), '--from', String(start), '--cases', String(end - start), '--timeout', String(timeoutMs)];
    if (v.kind) args.push('--kind', v.kind);
    const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let current = start;
    let started = false;
    let buf = '';
    let lastSeen = Date.now();
    let stderrTail = '';
    let killedForHang = false;
    // a case that does not answer within twice its own limit has blocked the event loop
    const watchdog = setInterval(() => {
      const limit = started ? timeoutMs * 2 + 5000 : 120_000;
      if (Date.now() - lastSeen > limit) {
        killedForHang = true;
        p.kill('SIGKILL');
      }
    }, 1000);
    p.stderr.on('data', (d: Buffer) => {
      stderrTail = (stderrTail + d.toString()).slice(-2000);
    });
    p.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let msg: { start?: number; result?: CaseResult; ready?: boolean };
        try {
          msg = JSON.parse(line) as typeof msg;
        } catch {
          continue; // a stray log line
        }
        lastSeen = Date.now();
        if (msg.start !== undefined) {
          current = msg.start;
          started = true;
        }
        if (msg.result) {
          results.push(msg.result);
          current = msg.result.index + 1;
          const done = results.length;
          if (v.verbose || msg.result.outcome === 'untyped' || msg.result.outcome === 'timeout') {
            console.log(`${msg.result.index} ${msg.result.kind} ${msg.result.outcome} ${msg.result.code ?? ''} | ${msg.result.mutation} | ${(msg.result.error ?? '').split('\n')[0]}`);
          } else if (done % 500 === 0) console.log(`${done} cases`);
        }
      }
    });
    p.on('exit', (code, signal) => {
      clearInterval(watchdog);
      if (current >= end) return resolve(end);
      if (!started) {
        // the set-up failed (no GPU, no stories260K): no case to blame
        console.error(`the fuzz runner could not start (code ${code}, signal ${signal}):\n${stderrTail}`);
        process.exit(2);
      }
      // the process died (or hung) on case `current`
      const outcome = killedForHang ? 'timeout' : 'crash';
      results.push({ index: current, kind: kindOf(seed, current, kinds), outcome, mutation: '(see reproduction)', error: `${killedForHang ? 'event loop blocked; killed' : `process exited (code ${code}, signal ${signal})`}\n${stderrTail.slice(-600)}`, ms: 0 });
      console.log(`${current} ${outcome}: ${results[results.length - 1]!.error}`);
      resolve(current + 1);
    });
  });
}
