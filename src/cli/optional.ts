/**
 * The service and the distributed batch need packages that a library install does not bring
 * (optional peer dependencies: fastify, piscina, prom-client, bullmq, ioredis). Their commands load
 * them on demand; a missing one is a one-line usage error saying what to install.
 */
import { UsageError } from './options.js';

export const SERVE_PACKAGES = ['fastify', '@fastify/multipart', 'piscina', 'prom-client'];
export const BATCH_PACKAGES = ['bullmq', 'ioredis'];

export async function loadOptional<T>(command: string, packages: string[], load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ERR_MODULE_NOT_FOUND' && packages.some((p) => err.message.includes(`'${p}'`))) {
      throw new UsageError(`'prnet ${command}' needs ${packages.join(', ')} (optional dependencies): npm install ${packages.join(' ')}`);
    }
    throw e;
  }
}
