/** The public shapes of engine.sessions, the same in Node, in the worker and on the page. */
import type { HearthErrorCode } from '../errors.js';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionTool, SamplingFields, ToolChoice } from '../api/types.js';
import type { ChatMessage } from '../tokenizer/index.js';
import type { ModelIdentity } from '../engine/identity.js';
import type { KvFormat } from './kv-codec.js';
import type { JsonValue } from './manifest.js';

export type { ModelIdentity, KvFormat, JsonValue };

export interface SessionInfo {
  id: string;
  /**
   * 'ok'; 'recovered' when a newer state could not be read (a write cut short by a crash, or a
   * damaged file) and the last complete one is shown; 'damaged' when stored KV is missing or torn
   * (messages are intact: `repair(id)` drops the bad KV, which is then re-prefilled).
   */
  status: 'ok' | 'recovered' | 'damaged';
  /** What was wrong, in words, when status is not 'ok'. */
  problems: string[];
  /** The manifest generation shown: it grows by one with every write (a turn, an update, a repair). */
  generation: number;
  title: string;
  /** Milliseconds since the epoch. */
  createdAt: number;
  updatedAt: number;
  messageCount: number;
  /** The start of the last message, for a list of conversations. */
  preview: string;
  /** Tokens whose KV cache is stored: resumed without prefill. */
  storedTokens: number;
  /** Bytes this session takes on storage. */
  bytes: number;
  /** The model its KV belongs to; null before its first turn. */
  model: ModelIdentity | null;
  /** Whether the loaded model can continue it; null when no model is loaded or it has none yet. */
  compatible: boolean | null;
  /** Whether its newest manifest is encrypted at rest. */
  encrypted: boolean;
  /** Format of its most recent KV chunk; null when it has none. */
  kvFormat: KvFormat | null;
  metadata: { [key: string]: JsonValue };
}

export interface Session extends SessionInfo {
  messages: ChatMessage[];
}

/** A session that could not be read at all (every manifest damaged, or encrypted with another key). */
export interface UnreadableSession {
  id: string;
  status: 'unreadable';
  error: { code: HearthErrorCode; message: string };
}

export type SessionListEntry = SessionInfo | UnreadableSession;

export interface CreateSessionOptions {
  title?: string;
  /** Messages to start from, e.g. a system prompt. */
  messages?: ChatMessage[];
  /** The app's own fields (JSON values), kept with the session. */
  metadata?: { [key: string]: JsonValue };
}

export interface UpdateSessionOptions {
  title?: string;
  metadata?: { [key: string]: JsonValue };
  /** Replace the messages without generating; the stored KV is cut where they differ at the next turn. */
  messages?: ChatMessage[];
}

export interface SessionChatParams extends SamplingFields {
  /** A message to append before generating; a string is a user message. */
  message?: string | ChatMessage;
  /**
   * The whole conversation to generate from, replacing the stored one: edit an earlier message
   * or drop the last reply. The stored KV is kept up to the first token that differs.
   */
  messages?: ChatMessage[];
  /** Drop the last assistant reply (and anything after it) and generate it again. */
  regenerate?: boolean;
  /**
   * When the turn is aborted after its reply began: keep the messages and the reply so far (and
   * the KV computed for them) in the session, as a chat app shows a stopped reply. The call still
   * rejects with ABORTED; its details.session says what was stored. Default true; false leaves
   * the session as it was before the call. Nothing is stored when no reply text came yet.
   */
  keepStopped?: boolean;
  stream?: boolean | null;
  /** As in chat.completions: functions the reply may call; calls are kept in the session with the reply. */
  tools?: ChatCompletionTool[] | null;
  tool_choice?: ToolChoice | null;
  parallel_tool_calls?: boolean | null;
}

/** What a turn did with the session, on the completion (and on a stream's last chunk). */
export interface SessionTurnInfo {
  id: string;
  /** Tokens whose KV was loaded from storage into the engine for this turn (0 when the engine held them). */
  restoredTokens: number;
  restoreMs: number;
  /** Where the stored KV was cut because an earlier message changed; null when nothing was cut. */
  truncatedAt: number | null;
  /** Tokens whose KV is stored after this turn. */
  storedTokens: number;
  /** Bytes written for this turn: one KV chunk and the manifest. */
  bytesWritten: number;
  persistMs: number;
  /** The manifest generation now current. */
  generation: number;
}

export type SessionChatCompletion = ChatCompletion & { session: SessionTurnInfo };
export type SessionChatChunk = ChatCompletionChunk & { session?: SessionTurnInfo };

export interface RestoreResult {
  /** Tokens loaded from storage into the engine. */
  restoredTokens: number;
  /** Tokens the engine now holds for this session (restored plus already live). */
  liveTokens: number;
  ms: number;
}

export interface SessionsConfig {
  /** Encrypt what is written from now on (AES-GCM, fresh IV per file); null turns encryption off. */
  key?: CryptoKey | null;
  /**
   * How new turns' KV is stored: 'f32' (exact, the default), 'f16' (half the bytes), or 'q8'
   * (int8 blocks of 32 with a scale, ~28% of f32). Chunks keep the format they were written in.
   */
  kvFormat?: KvFormat;
}

export interface SessionStorageInfo {
  backend: 'opfs' | 'node-fs' | 'memory';
  kvFormat: KvFormat;
  encrypted: boolean;
  /** Bytes still free for this site (or disk), when known. */
  freeBytes: number | null;
}

export interface SessionRequestOptions {
  signal?: AbortSignal;
}

export interface SessionsApi {
  create(opts?: CreateSessionOptions): Promise<SessionInfo>;
  /** Every stored session, newest first. */
  list(): Promise<SessionListEntry[]>;
  get(id: string): Promise<Session>;
  update(id: string, patch: UpdateSessionOptions): Promise<SessionInfo>;
  /** Removes the session and all its files. */
  delete(id: string): Promise<void>;
  /** One portable file holding the session as stored (still encrypted when it is encrypted at rest). */
  export(id: string): Promise<Blob>;
  /** Stores an exported session under a new id (re-encrypted with this engine's key, if any). */
  import(data: Blob | ArrayBuffer | Uint8Array): Promise<SessionInfo>;
  /** Loads the session's stored KV into the engine now, so its next turn starts at once. */
  restore(id: string): Promise<RestoreResult>;
  /** Drops stored KV that is missing or damaged (the messages stay; the dropped part is re-prefilled). */
  repair(id: string): Promise<SessionInfo>;
  configure(config: SessionsConfig): Promise<void>;
  storage(): Promise<SessionStorageInfo>;
  chat(id: string, params: SessionChatParams & { stream: true }, options?: SessionRequestOptions): Promise<AsyncIterable<SessionChatChunk>>;
  chat(id: string, params: SessionChatParams & { stream?: false | null }, options?: SessionRequestOptions): Promise<SessionChatCompletion>;
  chat(id: string, params: SessionChatParams, options?: SessionRequestOptions): Promise<SessionChatCompletion | AsyncIterable<SessionChatChunk>>;
}
