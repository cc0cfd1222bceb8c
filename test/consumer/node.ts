// A Node script's view of hearth: the consumer test type-checks it against the packed types
// (and runs the packed CLI, which goes through the same dist/node.js).
import { createEngine, isHearthError, type NodeEngine } from 'hearth/node';

export async function firstIds(model: string, count: number): Promise<number[]> {
  let engine: NodeEngine | null = null;
  try {
    engine = await createEngine({ model, contextLength: 64 });
    const r = await engine.completions.create({ prompt: [1], max_tokens: count, temperature: 0 });
    return r.hearth.ids;
  } catch (e) {
    if (isHearthError(e)) throw new Error(`${e.code}: ${e.message}`);
    throw e;
  } finally {
    await engine?.unload();
  }
}
