#!/usr/bin/env node
// The `hearth` CLI. In a source checkout it runs the TypeScript sources (through tsx with the
// .wgsl?raw loader), so it never runs a stale build; an installed package runs dist/cli.js.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'dist', 'cli.js');
const source = join(root, 'src', 'cli.ts');
let mod;
if (!existsSync(source) || process.env.HEARTH_USE_DIST === '1') {
  mod = await import(pathToFileURL(built).href);
} else {
  const { register } = await import('node:module');
  register(pathToFileURL(join(root, 'scripts', 'raw-loader.mjs')).href);
  const tsx = await import('tsx/esm/api');
  tsx.register();
  mod = await import(pathToFileURL(source).href);
}
const code = await mod.main(process.argv.slice(2));
process.exit(code);
