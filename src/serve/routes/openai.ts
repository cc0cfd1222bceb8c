/**
 * OpenAI's endpoints: GET /v1/models, POST /v1/chat/completions, POST /v1/completions. Requests
 * are checked by the library's own rules (checkRequestParams, then create()), before they wait
 * for the engine; the session extension (routes/sessions.ts) joins chat completions here.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HearthError } from '../../errors.js';
import { checkRequestParams } from '../../api/openai.js';
import type { ChatCompletionCreateParams, CompletionCreateParams } from '../../api/types.js';
import type { ServeContext } from '../context.js';
import { generate, sendError, type Run } from '../generate.js';
import { sessionOf, sessionTurn } from './sessions.js';

type Body = Record<string, unknown>;

function modelEntry(ctx: ServeContext, id = ctx.model.id) {
  return { id, object: 'model', created: ctx.model.createdAt, owned_by: 'hearth' };
}

/** The chat model, then the speech-to-text model when there is one (--audio-model). */
function modelEntries(ctx: ServeContext) {
  return ctx.model.audioId ? [modelEntry(ctx), modelEntry(ctx, ctx.model.audioId)] : [modelEntry(ctx)];
}

/** `model` may be left out or name the served model; another name is OpenAI's 404 model_not_found. */
function checkModel(ctx: ServeContext, model: unknown): void {
  if (model === undefined || model === null || model === ctx.model.id) return;
  if (model === ctx.model.audioId) {
    throw new HearthError('INVALID_ARGUMENT', `\`${model}\` is a speech-to-text model: it answers POST /v1/audio/transcriptions, not this endpoint.`, {
      hint: `Use ${JSON.stringify(ctx.model.id)} for text, or leave model out.`,
      details: { param: 'model' },
    });
  }
  throw new HearthError('NOT_FOUND', `The model \`${String(model)}\` does not exist or you do not have access to it.`, {
    hint: `This server serves ${JSON.stringify(ctx.model.id)} (GET /v1/models).`,
    details: { param: 'model', openaiCode: 'model_not_found' },
  });
}

function streamFlags(body: Body): { stream: boolean; includeUsage: boolean } {
  const so = body.stream_options as { include_usage?: unknown } | null | undefined;
  return { stream: body.stream === true, includeUsage: body.stream === true && !!so && so.include_usage === true };
}

export function openaiRoutes(app: FastifyInstance, ctx: ServeContext): void {
  app.get('/v1/models', async () => ({ object: 'list', data: modelEntries(ctx) }));

  app.get('/v1/models/:id', async (req: FastifyRequest<{ Params: { id: string } }>, reply) => {
    try {
      if (req.params.id === ctx.model.audioId) return modelEntry(ctx, ctx.model.audioId);
      checkModel(ctx, req.params.id);
      return modelEntry(ctx);
    } catch (e) {
      return sendError(reply, e, ctx);
    }
  });

  app.post('/v1/chat/completions', async (req, reply) => {
    let body: Body;
    let session: string | null;
    try {
      ({ body, session } = sessionOf(req, ctx));
      checkRequestParams('chat.completions', body);
      checkModel(ctx, body.model);
    } catch (e) {
      return sendError(reply, e, ctx);
    }
    const params = body as unknown as ChatCompletionCreateParams;
    const run: Run = session !== null ? sessionTurn(req, ctx, session, params) : (engine, signal) => engine.chat.completions.create(params, { signal });
    await generate(req, reply, ctx, { ...streamFlags(body), run, content: params.messages });
  });

  app.post('/v1/completions', async (req, reply) => {
    const body = req.body as Body;
    try {
      checkRequestParams('completions', body);
      checkModel(ctx, body.model);
    } catch (e) {
      return sendError(reply, e, ctx);
    }
    const params = body as unknown as CompletionCreateParams;
    await generate(req, reply, ctx, { ...streamFlags(body), run: (engine, signal) => engine.completions.create(params, { signal }), content: params.prompt });
  });
}
