#!/usr/bin/env node
// The `hearth` CLI. Runs the built CLI (dist/cli.js); in a source checkout without a build,
// runs the TypeScript sources through tsx with the .wgsl?raw loader.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'dist', 'cli.js');
let mod;
if (existsSync(built)) {
  mod = await import(pathToFileURL(built).href);
} else {
  const { register } = await import('node:module');
  register(pathToFileURL(join(root, 'scripts', 'raw-loader.mjs')).href);
  const tsx = await import('tsx/esm/api');
  tsx.register();
  mod = await import(pathToFileURL(join(root, 'src', 'cli.ts')).href);
}
const code = await mod.main(process.argv.slice(2));
process.exit(code);
