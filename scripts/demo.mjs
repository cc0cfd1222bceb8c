#!/usr/bin/env node
// npm run demo [-- --model PATH ...] [--port N] [--host H] [--dev]
import { parseArgs } from 'node:util';
import { startDemo } from './demo-server.mjs';

const { values } = parseArgs({
  options: {
    model: { type: 'string', multiple: true },
    port: { type: 'string' },
    host: { type: 'string' },
    dev: { type: 'boolean' },
  },
});
const { url } = await startDemo({ models: values.model ?? [], port: values.port ? Number(values.port) : 5173, host: values.host ?? '127.0.0.1', dev: values.dev });
console.log(`\n  Hearth demo: ${url}  (kernel lab: ${url}lab.html)\n  Open it in a browser with WebGPU (Chrome/Edge 113+). Ctrl-C stops.\n`);
if (values.model?.length) console.log(`  Serving local models: ${values.model.join(', ')}\n`);
