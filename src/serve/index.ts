/**
 * hearth/serve: the OpenAI-compatible server as a library (what `hearth serve` runs).
 *
 *   import { createServer } from 'hearth/serve';
 *   const server = await createServer({ model: './model.gguf', port: 8080, apiKeys: [process.env.KEY!] });
 *   console.log(await server.listen());
 */
export { createServer } from './server.js';
export type { HearthServer, ServeOptions } from './server.js';
export type { Scheduler } from './context.js';
export { SESSION_HEADER } from './routes/sessions.js';
