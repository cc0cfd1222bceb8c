// The worker engine losing its GPU device mid-generation, driven through the public API; the
// device is destroyed inside the worker through the host's test hook (a second Comlink handle
// on the engine's worker), as a driver reset would.
import * as Comlink from 'comlink';
import { createEngine, isHearthError } from '../../../src/index.js';
import type { EngineHost } from '../../../src/worker/host.js';

function errorInfo(e: unknown) {
  return isHearthError(e) ? { code: e.code, message: e.message, hint: e.hint ?? '', name: e.name } : { code: 'UNKNOWN', message: String(e), hint: '', name: (e as Error)?.name ?? '' };
}

const api = {
  async loseDeviceMidStream(model: string, endpoint: string) {
    const engine = await createEngine({ model, endpoint, contextLength: 128 });
    const host = Comlink.wrap<EngineHost>(engine.worker);
    let chunks = 0;
    let pending = null;
    try {
      const stream = await engine.completions.create({ prompt: [1], max_tokens: 120, temperature: 0, stream: true, ignore_eos: true });
      for await (const c of stream) {
        if (c.choices[0]?.text) chunks++;
        if (chunks === 3) await host.loseDeviceForTesting();
      }
    } catch (e) {
      pending = errorInfo(e);
    }
    const later = await engine.completions.create({ prompt: [1], max_tokens: 2 }).then(() => null, errorInfo);
    const laterChat = await engine.chat.completions.create({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }).then(() => null, errorInfo);
    const deviceLost = (await engine.getInfo()).deviceLost;
    await engine.unload();

    // a new engine (a new worker, a new device) runs
    const fresh = await createEngine({ model, endpoint, contextLength: 128 });
    const r = await fresh.completions.create({ prompt: [1], max_tokens: 5, temperature: 0 });
    const freshLost = fresh.info.deviceLost;
    await fresh.unload();
    return { chunks, pending, later, laterChat, deviceLost, freshIds: r.hearth.ids, freshLost };
  },
};

(window as unknown as { hearthTest: typeof api; ready: boolean }).hearthTest = api;
(window as unknown as { ready: boolean }).ready = true;
