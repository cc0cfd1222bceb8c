// Hearth's worker entry, with one change for the crash tests: session files are written in small
// pieces, and after each piece the worker tells the page and waits a little, so the page can stop
// the worker (worker.terminate()) at a chosen point of a write.
import * as Comlink from 'comlink';
import { EngineHost } from '../../../src/worker/host.js';
import { installErrorTransfer } from '../../../src/worker/errors.js';
import { openOpfsSessionStore } from '../../../src/sessions/store-opfs.js';
import { MemorySessionStore } from '../../../src/sessions/store.js';

const params = new URL(self.location.href).searchParams;
const pieceBytes = Number(params.get('piece') ?? 1024);
const pauseMs = Number(params.get('pause') ?? 15);

installErrorTransfer();
Comlink.expose(
  new EngineHost({
    sessionStore: async () =>
      (await openOpfsSessionStore({
        pieceBytes,
        onWrite: async (e) => {
          // no `id` field: Comlink ignores this message
          postMessage({ hearthTestWrite: { name: e.name, written: e.written, total: e.total } });
          await new Promise((r) => setTimeout(r, pauseMs));
        },
      })) ?? new MemorySessionStore(),
  }),
);
