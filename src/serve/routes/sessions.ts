/**
 * The session extension (with --sessions DIR): conversations kept on the server's disk with
 * their KV cache, so a returning client's next turn prefills only what is new.
 *
 *   POST   /v1/sessions            {title?, metadata?}  -> the session (its `id`)
 *   GET    /v1/sessions/:id                             -> the session, with its messages
 *   DELETE /v1/sessions/:id                             -> {id, object: 'session', deleted: true}
 *   POST   /v1/chat/completions    with header `X-Hearth-Session: <id>` (or `"session": "<id>"` in
 *          the body): an ordinary chat completion whose `messages` (the whole conversation, as
 *          OpenAI clients send it) continue the stored one; the stored KV is reused up to the
 *          first token that differs. usage.prompt_tokens_details.cached_tokens counts the prompt
 *          tokens not prefilled again; the reply carries `session` (restored and stored tokens).
 *
 * With API keys a session belongs to the key that created it: another key gets 404.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HearthError } from '../../errors.js';
import type { ChatCompletionCreateParams } from '../../api/types.js';
import type { NodeEngine } from '../../node.js';
import { authOf, type ServeContext } from '../context.js';
import { sendError, type Run } from '../generate.js';

export const SESSION_HEADER = 'x-hearth-session';
const OWNER = 'hearth_owner';

type Body = Record<string, unknown>;

/** The request body without the extension's field, and the session id the request names (or null). */
export function sessionOf(req: FastifyRequest, ctx: ServeContext): { body: Body; session: string | null } {
  const raw = req.body;
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return { body: raw as Body, session: null };
  const { session: inBody, ...body } = raw as Body;
  const header = req.headers[SESSION_HEADER];
  const session = typeof header === 'string' ? header : inBody;
  if (session === undefined || session === null) return { body: raw as Body, session: null };
  if (typeof session !== 'string') throw new HearthError('INVALID_ARGUMENT', 'session must be a session id (a string).', { details: { param: 'session' } });
  if (!ctx.sessions) {
    throw new HearthError('INVALID_ARGUMENT', 'This server keeps no sessions.', { hint: 'Start it with --sessions DIR, or leave the session out.', details: { param: 'session' } });
  }
  return { body, session };
}

function owner(req: FastifyRequest, ctx: ServeContext): string {
  return ctx.keys.owner(authOf(req).key);
}

/** The session, when the caller may use it; SESSION_NOT_FOUND otherwise (another key's sessions are not shown to exist). */
async function ownSession(engine: NodeEngine, id: string, req: FastifyRequest, ctx: ServeContext) {
  const s = await engine.sessions.get(id);
  if ((s.metadata[OWNER] ?? '') !== owner(req, ctx)) {
    throw new HearthError('SESSION_NOT_FOUND', `There is no session ${JSON.stringify(id)}.`, { hint: 'Create one with POST /v1/sessions.', details: { id } });
  }
  return s;
}

/** A chat completion that continues a stored session. */
export function sessionTurn(req: FastifyRequest, ctx: ServeContext, id: string, params: ChatCompletionCreateParams): Run {
  return async (engine, signal) => {
    await ownSession(engine, id, req, ctx);
    const { messages, stream, ...sampling } = params;
    return engine.sessions.chat(id, { ...sampling, messages, stream: !!stream }, { signal });
  };
}

function needSessions(ctx: ServeContext): void {
  if (!ctx.sessions) throw new HearthError('NOT_FOUND', 'This server keeps no sessions.', { hint: 'Start it with --sessions DIR.', details: { openaiCode: 'unknown_url' } });
}

export function sessionRoutes(app: FastifyInstance, ctx: ServeContext): void {
  app.post('/v1/sessions', async (req, reply) => {
    try {
      needSessions(ctx);
      const b = (req.body ?? {}) as { title?: unknown; metadata?: unknown };
      if (typeof b !== 'object' || Array.isArray(b)) throw new HearthError('INVALID_ARGUMENT', 'The body must be an object: {title?, metadata?}.');
      const extra = Object.keys(b).filter((k) => k !== 'title' && k !== 'metadata');
      if (extra.length) throw new HearthError('INVALID_ARGUMENT', `Unrecognized request argument supplied: ${extra[0]}.`, { details: { param: extra[0] } });
      const metadata = { ...((b.metadata ?? {}) as Record<string, never>), [OWNER]: owner(req, ctx) };
      const info = await ctx.model.current().sessions.create({ title: b.title as string | undefined, metadata });
      return { ...info, object: 'session' };
    } catch (e) {
      return sendError(reply, e, ctx);
    }
  });

  app.get('/v1/sessions/:id', async (req: FastifyRequest<{ Params: { id: string } }>, reply) => {
    try {
      needSessions(ctx);
      return { ...(await ownSession(ctx.model.current(), req.params.id, req, ctx)), object: 'session' };
    } catch (e) {
      return sendError(reply, e, ctx);
    }
  });

  app.delete('/v1/sessions/:id', async (req: FastifyRequest<{ Params: { id: string } }>, reply) => {
    try {
      needSessions(ctx);
      const engine = ctx.model.current();
      await ownSession(engine, req.params.id, req, ctx);
      await engine.sessions.delete(req.params.id);
      return { id: req.params.id, object: 'session', deleted: true };
    } catch (e) {
      return sendError(reply, e, ctx);
    }
  });
}
