/** The `hearth` CLI as a user runs it. */
import { describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KNOWN_IDS, STORIES } from '../helpers/stories.js';
import { startHubServer } from '../helpers/hub-server.js';

const run = promisify(execFile);
const BIN = new URL('../../bin/hearth.js', import.meta.url).pathname;

async function hearth(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return hearthWith({}, ...args);
}

async function hearthWith(env: Record<string, string>, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run('node', [BIN, ...args], { timeout: 120_000, env: { ...process.env, ...env } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}

describe('hearth CLI', () => {
  it('generate --prompt-ids 1 --json gives the 48 known ids', async () => {
    const r = await hearth('generate', '--model', STORIES, '--prompt-ids', '1', '--max-tokens', '48', '--temperature', '0', '--json', '--top-logprobs', '2');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.prompt_ids).toEqual([1]);
    expect(out.ids).toEqual(KNOWN_IDS);
    expect(out.logprobs).toHaveLength(48);
    expect(out.logprobs[0].top[0].id).toBe(403);
    expect(out.usage.completion_tokens).toBe(48);
    expect(out.timings.decode_tokens_per_second).toBeGreaterThan(0);
    // 28 launches a greedy step, less the one-launch greedy sampler, plus the six passes top logprobs take here
    expect(out.dispatches_per_token).toBe(33);
  });

  it('chat answers every line of piped input in turn, reusing the conversation so far', async () => {
    const child = spawn('node', [BIN, 'chat', '--model', STORIES, '--max-tokens', '8', '--temperature', '0'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // both lines at once, before the first reply has started: neither may be lost
    child.stdin.end('Once upon a time\nThe dog ran\n');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code, stderr).toBe(0);
    expect(stdout).toContain('> Once upon a time\n');
    expect(stdout).toContain('> The dog ran\n');
    const stats = stderr.match(/\[\d+ tokens, prefill \d+ \(reused \d+\)/g) ?? [];
    expect(stats, stderr).toHaveLength(2);
    // the second turn's prompt starts with the first turn, already in the KV cache
    expect(Number(/reused (\d+)/.exec(stats[1]!)![1])).toBeGreaterThan(0);
  });

  it('generate --prompt prints a story in plain text', async () => {
    const r = await hearth('generate', '--model', STORIES, '--prompt', 'Once upon a time', '--max-tokens', '30', '--temperature', '0');
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith('Once upon a time')).toBe(true);
    expect(r.stdout.length).toBeGreaterThan(60);
  });

  it('a Hub repo id goes to $HF_ENDPOINT with $HF_TOKEN as a Bearer token (--token overrides it)', async () => {
    const hub = await startHubServer({ files: { 'acme/stories/stories260K.gguf': readFileSync(STORIES) } });
    try {
      const r = await hearthWith({ HF_ENDPOINT: hub.url, HF_TOKEN: 'hf_from_env' }, 'generate', '--model', 'acme/stories/stories260K.gguf', '--prompt-ids', '1', '--max-tokens', '8', '--temperature', '0', '--json');
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).ids).toEqual(KNOWN_IDS.slice(0, 8));
      const sent = hub.requests.filter((q) => q.path.includes('stories260K.gguf'));
      expect(sent.length).toBeGreaterThan(0);
      expect(sent.every((q) => q.authorization === 'Bearer hf_from_env')).toBe(true);
      hub.reset();
      const o = await hearthWith({ HF_ENDPOINT: hub.url, HF_TOKEN: 'hf_from_env' }, 'generate', '--model', 'acme/stories/stories260K.gguf', '--token', 'hf_flag', '--prompt-ids', '1', '--max-tokens', '2');
      expect(o.code, o.stderr).toBe(0);
      expect(hub.requests.filter((q) => q.path.includes('stories260K.gguf')).every((q) => q.authorization === 'Bearer hf_flag')).toBe(true);
    } finally {
      await hub.close();
    }
  });

  it('a corrupt model file and bad flags give typed errors and a non-zero exit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-cli-'));
    const bad = join(dir, 'bad.gguf');
    writeFileSync(bad, readFileSync(STORIES).subarray(0, 5000));
    const trunc = await hearth('generate', '--model', bad, '--prompt-ids', '1');
    expect(trunc.code).toBe(1);
    expect(trunc.stderr).toMatch(/TRUNCATED_FILE|CORRUPT_FILE/);
    const missing = await hearth('generate', '--model', join(dir, 'nope.gguf'), '--prompt-ids', '1');
    expect(missing.stderr).toMatch(/MISSING_FILE/);
    const flags = await hearth('generate', '--model', STORIES, '--prompt-ids', 'x,y');
    expect(flags.stderr).toMatch(/INVALID_ARGUMENT/);
    expect((await hearth('frobnicate')).code).toBe(2);
  });
});
