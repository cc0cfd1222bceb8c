// `node --import tsx --import ./scripts/register-raw.mjs script.ts`: `?raw` imports outside Vite.
import { register } from 'node:module';

register('./raw-loader.mjs', import.meta.url);
