/**
 * engine.sessions on the worker side: plain async methods and proxied callbacks only, so Comlink
 * can carry every call. AbortSignals cannot cross the boundary; requests carry an id instead.
 */
import { pushAllButLast } from '../util/push-stream.js';
import { HearthError } from '../errors.js';
import type { Sessions } from './sessions.js';
import type {
  CreateSessionOptions,
  RestoreResult,
  Session,
  SessionChatChunk,
  SessionChatCompletion,
  SessionChatParams,
  SessionInfo,
  SessionListEntry,
  SessionsConfig,
  SessionStorageInfo,
  UpdateSessionOptions,
} from './types.js';

export type RemoteChatParams = Omit<SessionChatParams, 'signal' | 'stream'>;

export class SessionsHost {
  private readonly requests = new Map<string, AbortController>();

  constructor(private readonly sessions: () => Promise<Sessions>) {}

  private begin(requestId: string): AbortSignal {
    const c = new AbortController();
    this.requests.set(requestId, c);
    return c.signal;
  }

  abort(requestId: string): void {
    this.requests.get(requestId)?.abort(new HearthError('ABORTED', 'The request was aborted.'));
  }

  async create(opts?: CreateSessionOptions): Promise<SessionInfo> {
    return (await this.sessions()).create(opts);
  }

  async list(): Promise<SessionListEntry[]> {
    return (await this.sessions()).list();
  }

  async get(id: string): Promise<Session> {
    return (await this.sessions()).get(id);
  }

  async update(id: string, patch: UpdateSessionOptions): Promise<SessionInfo> {
    return (await this.sessions()).update(id, patch);
  }

  async delete(id: string): Promise<void> {
    return (await this.sessions()).delete(id);
  }

  async export(id: string): Promise<Blob> {
    return (await this.sessions()).export(id);
  }

  async import(data: Blob | ArrayBuffer | Uint8Array): Promise<SessionInfo> {
    return (await this.sessions()).import(data);
  }

  async restore(id: string): Promise<RestoreResult> {
    return (await this.sessions()).restore(id);
  }

  async repair(id: string): Promise<SessionInfo> {
    return (await this.sessions()).repair(id);
  }

  async configure(config: SessionsConfig): Promise<void> {
    return (await this.sessions()).configure(config);
  }

  async storage(): Promise<SessionStorageInfo> {
    return (await this.sessions()).storage();
  }

  async chat(id: string, params: RemoteChatParams, requestId: string): Promise<SessionChatCompletion> {
    const signal = this.begin(requestId);
    try {
      return await (await this.sessions()).chat(id, { ...params, stream: false }, { signal });
    } finally {
      this.requests.delete(requestId);
    }
  }

  /** Streams chunks through `onChunk` (one-way messages, no per-token round trip); resolves with the last chunk. */
  async chatStream(id: string, params: RemoteChatParams, requestId: string, onChunk: (c: SessionChatChunk) => unknown): Promise<SessionChatChunk | null> {
    const signal = this.begin(requestId);
    try {
      const stream = await (await this.sessions()).chat(id, { ...params, stream: true }, { signal });
      return await pushAllButLast(stream, onChunk);
    } finally {
      this.requests.delete(requestId);
    }
  }
}
