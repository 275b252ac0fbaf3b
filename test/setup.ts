/** Mocha root hooks: one real database and Redis for the whole run (see support/context.ts). */
import { startContext, stopContext } from './support/context';

before(async function () {
  this.timeout(120_000);
  await startContext();
});

after(async function () {
  this.timeout(60_000);
  await stopContext();
});
