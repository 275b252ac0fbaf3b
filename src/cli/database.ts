/**
 * How the CLI reaches the database, in this order:
 *
 * 1. `MONGODB_URI` when set (a real MongoDB, or a FerretDB someone else runs).
 * 2. The running service's embedded FerretDB: while `npm start` runs it writes the URI of its
 *    database to `${DATA_DIR}/run/mongodb.uri`. The file is used only if that URI answers
 *    `ping`, since a crashed service leaves a stale file behind.
 * 3. Otherwise the CLI starts the embedded FerretDB on the same DATA_DIR itself and stops it
 *    when the command ends.
 *
 * Why step 2 matters: two FerretDB processes must never open the same SQLite folder at once
 * (each keeps its own view of the catalogue), so while the service runs the CLI must go through
 * the service's database rather than start a second one.
 */
import { MongoClient } from 'mongodb';
import type { Config } from '../../config';
import { connectDb, disconnectDb, ensureIndexes } from '../platform/db';
import { startEmbeddedDb } from '../platform/embedded-db';
import { readRunFile, runFilePathOf } from '../platform/run-files';
import type { Logger } from '../platform/logger';
// Every model, so ensureIndexes creates all the unique indexes (the locks), not only those of
// the modules this command happens to import.
import '../modules/models';

/** How long a `ping` to the service's database may take before the run file counts as stale. */
const RUN_FILE_PING_TIMEOUT_MS = 1500;

export type DatabaseSource = 'MONGODB_URI' | 'running service' | 'embedded (started by the CLI)';

export interface CliDatabase {
  source: DatabaseSource;
  uri: string;
  close(): Promise<void>;
}

/** Where the service writes its database URI while it runs. */
export function runFilePath(dataDir: string): string {
  return runFilePathOf(dataDir, 'mongodb.uri');
}

/** The URI in the run file if it exists and the database there answers `ping`, else undefined. */
export async function findRunningServiceUri(dataDir: string): Promise<string | undefined> {
  const uri = readRunFile(dataDir, 'mongodb.uri');
  if (!uri || !/^mongodb(\+srv)?:\/\//.test(uri)) return undefined;
  const client = new MongoClient(uri, {
    serverSelectionTimeoutMS: RUN_FILE_PING_TIMEOUT_MS,
    connectTimeoutMS: RUN_FILE_PING_TIMEOUT_MS,
  });
  try {
    await client.connect();
    await client.db('admin').command({ ping: 1 });
    return uri;
  } catch {
    return undefined;
  } finally {
    await client.close().catch(() => undefined);
  }
}

/** Connects mongoose (and creates the indexes that are the locks) for one CLI command. */
export async function openDatabase(config: Config, logger: Logger): Promise<CliDatabase> {
  let source: DatabaseSource;
  let uri: string;
  let stopEmbedded: (() => Promise<void>) | undefined;
  if (config.mongodbUri) {
    source = 'MONGODB_URI';
    uri = config.mongodbUri;
  } else {
    const running = await findRunningServiceUri(config.dataDir);
    if (running) {
      source = 'running service';
      uri = running;
    } else {
      const db = await startEmbeddedDb({
        bin: config.ferretdb.bin,
        handler: config.ferretdb.handler,
        dataDir: config.dataDir,
        postgresqlUrl: config.ferretdb.postgresqlUrl,
        busyTimeoutMs: config.ferretdb.sqliteBusyTimeoutMs,
        logger,
      });
      source = 'embedded (started by the CLI)';
      uri = db.uri;
      stopEmbedded = () => db.stop();
    }
  }
  try {
    await connectDb(uri, config.mongodbDb, {
      writeLanes: config.dbWriteLanes,
      sqlite: source !== 'MONGODB_URI' && config.ferretdb.handler === 'sqlite',
    });
    // The CLI may be the first program to touch a fresh database; the unique indexes it relies
    // on (cardNo, username, ledger seq and source) must exist before it writes anything.
    await ensureIndexes();
  } catch (err) {
    await disconnectDb().catch(() => undefined);
    await stopEmbedded?.();
    throw err;
  }
  return {
    source,
    uri,
    async close() {
      await disconnectDb();
      await stopEmbedded?.();
    },
  };
}
