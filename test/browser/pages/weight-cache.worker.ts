// Runs weight-cache scenarios inside a dedicated worker, where OPFS writes through sync access handles.
import { runScenario, type LoadArgs } from './weight-cache.scenarios.js';

interface Request {
  id: number;
  name: string;
  args: LoadArgs & { key?: string };
}

self.onmessage = async (e: MessageEvent<Request>) => {
  const { id, name, args } = e.data;
  const result = await runScenario(name, args, (event) => postMessage({ event }));
  postMessage({ id, result });
};
