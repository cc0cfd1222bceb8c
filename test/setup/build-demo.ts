/**
 * Builds the demo once before any test runs: the demo tests serve this build (never the dev
 * server), and building it per test file would race when files run in parallel.
 */
import { build } from 'vite';
import { fileURLToPath } from 'node:url';

export default async function setup(): Promise<void> {
  await build({ configFile: fileURLToPath(new URL('../../demo/vite.config.ts', import.meta.url)), logLevel: 'error' });
}
