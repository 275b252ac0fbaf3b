/**
 * Mocha root hooks (a root-hook plugin, loaded by .mocharc's `require`): one real database and
 * Redis for the whole run (see support/context.ts). In `--parallel` mode each worker process
 * runs these once and so gets a database and a Redis prefix of its own.
 */
import type { Context } from 'mocha';
import { startContext, stopContext } from './support/context';
import { removeTempDirs } from './support/temp';

export const mochaHooks = {
  async beforeAll(this: Context) {
    this.timeout(120_000);
    await startContext();
  },
  async afterAll(this: Context) {
    this.timeout(60_000);
    await stopContext();
    removeTempDirs();
  },
};
