import { startDemo as start } from '../../scripts/demo-server.mjs';

/** Serve the demo build (made once by test/setup/build-demo.ts), with local model files. */
export async function startBuiltDemo(models: string[]): Promise<{ url: string; close: () => Promise<void> }> {
  return start({ models, port: 0, quiet: true, skipBuild: true });
}
