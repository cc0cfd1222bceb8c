/**
 * Hearth for the browser: run LLMs on the user's GPU, in a Web Worker, with an OpenAI-style API.
 *
 *   import { createEngine } from 'hearth';
 *   const engine = await createEngine({ model: 'HuggingFaceTB/SmolLM2-360M-Instruct', dtype: 'q4_0' });
 *   for await (const chunk of await engine.chat.completions.create({ messages, stream: true })) { ... }
 */
export { createEngine, createWorker, listCachedModels, deleteCachedModel } from './client.js';
export type { BrowserAudio, BrowserEngine, CreateEngineOptions, RequestOptions } from './client.js';
export * from './errors.js';
export type * from './api/types.js';
export type * from './api/audio.js';
export type { WhisperInfo } from './engine/whisper.js';
export type { EngineInfo } from './engine/engine.js';
export type { LoadProgress, WeightDtype } from './models/load.js';
export type { KvFormat } from './quant/kv-format.js';
export type { ChatMessage } from './tokenizer/index.js';
export type { CachedModelInfo, CachedFileInfo } from './hub/cache.js';
export { openSessions } from './sessions/open.js';
export type { OpenSessionsOptions } from './sessions/open.js';
export type * from './sessions/types.js';
