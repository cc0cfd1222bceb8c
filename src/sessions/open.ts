/**
 * Sessions read and managed from the page, without a model: the list for a sidebar before any
 * model is loaded, export, import, delete. Turns need the engine (engine.sessions).
 */
import { HearthError } from '../errors.js';
import { Sessions } from './sessions.js';
import { openOpfsSessionStore } from './store-opfs.js';
import type { SessionsApi, SessionsConfig } from './types.js';

export interface OpenSessionsOptions extends SessionsConfig {
  /** The OPFS folder; default 'hearth-sessions', where engine.sessions keeps them. */
  namespace?: string;
}

export async function openSessions(opts: OpenSessionsOptions = {}): Promise<SessionsApi> {
  const { namespace, ...config } = opts;
  const store = await openOpfsSessionStore({ namespace });
  if (!store) {
    throw new HearthError('INVALID_ARGUMENT', 'This context has no origin private file system to keep sessions in.', {
      hint: 'OPFS needs a secure context (https or localhost) and is off in some private modes.',
    });
  }
  return new Sessions({ ...config, store, engine: () => null, lockPrefix: namespace ? `hearth-session:opfs:${namespace}` : undefined });
}
