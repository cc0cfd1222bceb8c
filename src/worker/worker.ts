/// <reference lib="webworker" />
// The Web Worker entry: the engine lives here, off the page's main thread.
import * as Comlink from 'comlink';
import { EngineHost } from './host.js';
import { installErrorTransfer } from './errors.js';

installErrorTransfer();
Comlink.expose(new EngineHost());
