/**
 * A process that starts the embedded FerretDB on a folder of its own and never stops it, for the
 * test that kills this process with -9. Prints `LAUNCHER <pid>` once the database answers.
 *
 * Input (environment): MSL_CHILD_FERRETDB_BIN, MSL_CHILD_DATA_DIR.
 */
import { startEmbeddedDb } from '../../src/platform/embedded-db';
import { createLogger } from '../../src/platform/logger';

startEmbeddedDb({
  bin: process.env.MSL_CHILD_FERRETDB_BIN!,
  handler: 'sqlite',
  dataDir: process.env.MSL_CHILD_DATA_DIR!,
  logger: createLogger('silent'),
}).then(
  (db) => process.stdout.write(`LAUNCHER ${db.pid}\n`),
  (err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(1);
  },
);
