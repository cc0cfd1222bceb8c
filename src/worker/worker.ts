/// <reference lib="webworker" />
// The worker entry: the engine lives here, off the page's main thread. Started as a dedicated
// Worker it serves one page; started as a SharedWorker (createEngine({ shared: true })) it
// serves every tab of the origin that connects, through one engine (./shared.ts).
import * as Comlink from 'comlink';
import { EngineHost } from './host.js';
import { SharedEngine } from './shared.js';
import { installErrorTransfer } from './errors.js';

installErrorTransfer();
const scope = self as unknown as { onconnect?: ((e: MessageEvent) => void) | null };
if ('onconnect' in scope) {
  const shared = new SharedEngine();
  scope.onconnect = (e: MessageEvent) => Comlink.expose(shared.connect(), e.ports[0]!);
} else {
  Comlink.expose(new EngineHost());
}
