import { startDemo as start } from '../../scripts/demo-server.mjs';

/** Build the demo (once per test process) and serve the build, with local model files. */
let built = false;
export async function startBuiltDemo(models: string[]): Promise<{ url: string; close: () => Promise<void> }> {
  const demo = await start({ models, port: 0, quiet: true, skipBuild: built });
  built = true;
  return demo as { url: string; close: () => Promise<void> };
}
