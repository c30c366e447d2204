// Loads the inference worker from its TypeScript source (tests, `tsx`): registers tsx in this
// thread, then re-exports the worker. The compiled package loads dist/serve/worker.js directly.
import { register } from 'tsx/esm/api';

register();
const worker = await import('./worker.ts');
export default worker.default;
