/**
 * Hearth in Node: the same engine and OpenAI-style API as in the browser, in-process on Dawn
 * (the `webgpu` package).
 *
 *   import { createEngine } from 'hearth/node';
 *   const engine = await createEngine({ model: 'HuggingFaceTB/SmolLM2-135M-Instruct' });
 *   const r = await engine.chat.completions.create({ messages: [{ role: 'user', content: 'Hi' }] });
 */
import type { GpuContext } from './gpu/device.js';
import { createNodeGpuContext } from './gpu/node.js';
import { resolveModelSource } from './hub/resolve.js';
import { loadEngine, type EngineLoadOptions } from './engine/load.js';
import type { Engine, EngineInfo } from './engine/engine.js';
import { createOpenAIApi, type OpenAIApi } from './api/openai.js';
import { AudioEngine, type AudioApi } from './api/audio.js';
import type { WhisperInfo } from './engine/whisper.js';
import type { Tokenizer } from './tokenizer/index.js';
import { Sessions } from './sessions/sessions.js';
import { MemorySessionStore } from './sessions/store.js';
import { NodeSessionStore } from './sessions/store-node.js';
import type { SessionsApi, SessionsConfig } from './sessions/types.js';

export * from './errors.js';
export type * from './api/types.js';
export type * from './api/audio.js';
export type { WhisperInfo } from './engine/whisper.js';
export type { EngineInfo, GenerateRequest, GenerateResult, TokenEvent } from './engine/engine.js';
export type { LoadProgress, WeightDtype } from './models/load.js';
export type * from './sessions/types.js';

export interface NodeSessionsOptions extends SessionsConfig {
  /** Folder to keep sessions in (one subfolder each); absent: sessions live in memory only. */
  dir?: string;
}

export interface CreateEngineOptions extends EngineLoadOptions {
  /** A local file or folder, a URL, or a Hugging Face repo id (owner/name). */
  model: string;
  /** The model name completions report (`model`); default options.model. */
  name?: string;
  revision?: string;
  /** Hugging Face endpoint (a self-hosted mirror); default $HF_ENDPOINT, else https://huggingface.co. */
  endpoint?: string;
  /** Hugging Face access token for gated or private repos; default $HF_TOKEN. */
  token?: string;
  /** Use this GPU context instead of creating one (several engines can share a device). */
  gpu?: GpuContext;
  /** Where and how engine.sessions stores conversations and their KV cache. */
  sessions?: NodeSessionsOptions;
  /** A Whisper model (folder, URL or repo) to load next to the chat model for engine.audio. */
  audioModel?: string;
}

/** Speech to text with a local Whisper model (OpenAI's audio.transcriptions). */
export interface NodeAudio extends AudioApi {
  /** Loads a Whisper model (local folder, URL or Hugging Face repo) in place of the current one. */
  load(model: string): Promise<WhisperInfo>;
  /** Frees the Whisper model's GPU buffers (the chat model is untouched). */
  unload(): Promise<void>;
  readonly info: (WhisperInfo & { name: string }) | null;
}

export interface NodeEngine extends OpenAIApi {
  readonly tokenizer: Tokenizer;
  readonly info: EngineInfo;
  /** The engine below the API (generation with token ids, profiling). */
  readonly engine: Engine;
  /** Conversations kept with their KV cache (on disk under options.sessions.dir, else in memory). */
  readonly sessions: SessionsApi;
  /** Speech to text on the same GPU (options.audioModel, or audio.load()). */
  readonly audio: NodeAudio;
  unload(): Promise<void>;
}

type SourceOptions = Pick<CreateEngineOptions, 'revision' | 'endpoint' | 'token'>;

function nodeAudio(ctx: GpuContext, source: SourceOptions): NodeAudio {
  const audio = new AudioEngine(ctx);
  return {
    transcriptions: audio.transcriptions,
    async load(model) {
      const src = await resolveModelSource(model, {
        revision: source.revision,
        endpoint: source.endpoint ?? (process.env.HF_ENDPOINT || undefined),
        token: source.token ?? (process.env.HF_TOKEN || undefined),
      });
      return audio.load(src, model);
    },
    async unload() {
      audio.unload();
    },
    get info() {
      return audio.info;
    },
  };
}

/** Speech to text alone (no chat model): `hearth transcribe`, or an app that only listens. */
export async function createTranscriber(options: SourceOptions & { model: string; gpu?: GpuContext }): Promise<NodeAudio> {
  const ownGpu = !options.gpu;
  const ctx = options.gpu ?? (await createNodeGpuContext());
  const audio = nodeAudio(ctx, options);
  try {
    await audio.load(options.model);
  } catch (e) {
    if (ownGpu) ctx.destroy();
    throw e;
  }
  return {
    ...audio,
    get info() {
      return audio.info;
    },
    async unload() {
      await audio.unload();
      if (ownGpu) ctx.destroy();
    },
  };
}

export async function createEngine(options: CreateEngineOptions): Promise<NodeEngine> {
  const ownGpu = !options.gpu;
  const ctx = options.gpu ?? (await createNodeGpuContext());
  try {
    const source = await resolveModelSource(options.model, {
      revision: options.revision,
      endpoint: options.endpoint ?? (process.env.HF_ENDPOINT || undefined),
      token: options.token ?? (process.env.HF_TOKEN || undefined),
      onProgress: options.onProgress ? (p) => options.onProgress!({ phase: 'download', loaded: p.loaded, total: p.total, file: p.file }) : undefined,
    });
    const engine = await loadEngine(ctx, source, options);
    const audio = nodeAudio(ctx, options);
    if (options.audioModel) await audio.load(options.audioModel).catch(async (e: unknown) => {
      await engine.unload();
      throw e;
    });
    const name = options.name ?? options.model;
    const api = createOpenAIApi(engine, name);
    const { dir, ...sessionConfig } = options.sessions ?? {};
    const sessions = new Sessions({
      ...sessionConfig,
      store: dir ? new NodeSessionStore(dir) : new MemorySessionStore(),
      engine: () => (engine.info.memoryBytes > 0 ? engine : null),
      modelName: () => name,
      lockPrefix: `hearth-session:${dir ?? 'memory'}`,
    });
    return {
      ...api,
      sessions,
      tokenizer: engine.tokenizer,
      get info() {
        return engine.info;
      },
      engine,
      audio,
      async unload() {
        await audio.unload();
        await engine.unload();
        if (ownGpu) ctx.destroy();
      },
    };
  } catch (e) {
    if (ownGpu) ctx.destroy();
    throw e;
  }
}
