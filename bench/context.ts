/**
 * The bench's environment: the embedded FerretDB (SQLite, or PostgreSQL with
 * FERRETDB_HANDLER=postgresql) or MONGODB_URI, and Redis under a key prefix of this run's own.
 * Like the tests' context, with three differences: the connection monitors commands (so round
 * trips can be counted), the data folder may be kept between runs (`--data-dir`, so a large
 * generated city is generated once), and the API runs in a child process (bench/server.ts) that
 * the load generator reaches over real HTTP.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mongoose from 'mongoose';
import type { Redis } from 'ioredis';
import { parseConfig, type Config } from '../config';
import { connectDb, disconnectDb, ensureIndexes } from '../src/platform/db';
import { startEmbeddedDb, type EmbeddedDb } from '../src/platform/embedded-db';
import { writeLane } from '../src/platform/write-lane';
import { createLogger, type Logger } from '../src/platform/logger';
import { createApiRedis, resolveRedis, type ResolvedRedis } from '../src/platform/redis';
import { deleteRedisKeys } from '../test/support/context';
import '../src/modules/models';

/** scrypt cost for the bench's users and terminals: sign-in is not what is measured. */
export const BENCH_KDF_LOG2N = 12;

export interface BenchContext {
  config: Config;
  logger: Logger;
  redis: Redis;
  redisUrl: string;
  runId: string;
  dataDir: string;
  /** The database URI without the monitoring option (for the server child and the CLI). */
  mongoUri: string;
  backend: string;
  /** The embedded database's process (its launcher), for CPU per operation; absent with MONGODB_URI. */
  dbPid?: number;
  stop(): Promise<void>;
}

/** Adds `monitorCommands=true` so the driver emits an event per command (see roundtrips.ts). */
export function monitoredUri(uri: string): string {
  return `${uri}${uri.includes('?') ? '&' : '?'}monitorCommands=true`;
}

export async function startBenchContext(opts: {
  dataDir?: string;
  dbName?: string;
}): Promise<BenchContext> {
  const runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const keep = opts.dataDir !== undefined;
  const dataDir = opts.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'msl-bench-'));
  const dbName = opts.dbName ?? (keep ? 'bench' : `bench_${runId}`);
  const config = parseConfig({
    ...process.env,
    APP_MODE: 'local',
    DATA_DIR: dataDir,
    MONGODB_DB: dbName,
    REDIS_PREFIX: `bench:${runId}`,
    PASSWORD_KDF_LOG2N: String(BENCH_KDF_LOG2N),
    LOG_LEVEL: 'silent',
    DEMO_SEED: 'false',
  });
  const logger = createLogger(config.logLevel);
  let embedded: EmbeddedDb | undefined;
  let mongoUri = config.mongodbUri;
  if (!mongoUri) {
    embedded = await startEmbeddedDb({
      bin: config.ferretdb.bin,
      handler: config.ferretdb.handler,
      dataDir,
      postgresqlUrl: config.ferretdb.postgresqlUrl,
      busyTimeoutMs: config.ferretdb.sqliteBusyTimeoutMs,
      logger,
    });
    mongoUri = embedded.uri;
  }
  await connectDb(monitoredUri(mongoUri), config.mongodbDb, {
    writeLanes: config.dbWriteLanes,
    sqlite: embedded !== undefined && config.ferretdb.handler === 'sqlite',
  });
  await ensureIndexes();
  const ownRedis: ResolvedRedis = await resolveRedis(config.redisUrl, dataDir, logger);
  const redis = createApiRedis(ownRedis.url);
  const lane = writeLane.permits
    ? `write lane ${writeLane.permits} (DB_WRITE_LANES)`
    : 'no write lane (DB_WRITE_LANES)';
  const backend = `${
    config.mongodbUri ? 'MONGODB_URI' : `embedded FerretDB 1.24 (${config.ferretdb.handler})`
  }, ${lane}`;
  return {
    config,
    logger,
    redis,
    redisUrl: ownRedis.url,
    runId,
    dataDir,
    mongoUri,
    backend,
    ...(embedded ? { dbPid: embedded.pid } : {}),
    async stop() {
      await deleteRedisKeys(redis, config.redisPrefix).catch(() => undefined);
      redis.disconnect();
      if (!keep) await mongoose.connection.db?.dropDatabase().catch(() => undefined);
      await disconnectDb();
      await embedded?.stop();
      await ownRedis.stop();
      if (!keep) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
