/**
 * The shared test environment: a real database (embedded FerretDB in a temporary folder, or
 * MONGODB_URI's server with a database of this run's own) and real Redis under a key prefix of
 * this run's own. Nothing here is a mock. Started once by test/setup.ts.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Express } from 'express';
import mongoose from 'mongoose';
import type { Redis } from 'ioredis';
import { parseConfig, type Config } from '../../config';
import { createApp } from '../../src/app';
import { createTokenService, type TokenService } from '../../src/platform/auth';
import { connectDb, disconnectDb, ensureIndexes } from '../../src/platform/db';
import { settleLeaseRenewal } from '../../src/modules/redemption/liveness';
import { settleBackgroundWrites } from '../../src/platform/background';
import { startEmbeddedDb, type EmbeddedDb } from '../../src/platform/embedded-db';
import { createLogger, type Logger } from '../../src/platform/logger';
import { Queues } from '../../src/platform/queues';
import { createApiRedis, resolveRedis, type ResolvedRedis } from '../../src/platform/redis';

export interface TestContext {
  config: Config;
  app: Express;
  logger: Logger;
  redis: Redis;
  redisUrl: string;
  tokens: TokenService;
  queues: Queues;
  runId: string;
  dataDir: string;
  mongoUri: string;
}

let current: TestContext | undefined;
let embedded: EmbeddedDb | undefined;
let ownRedis: ResolvedRedis | undefined;

export function ctx(): TestContext {
  if (!current) throw new Error('test context not started');
  return current;
}

export async function startContext(): Promise<TestContext> {
  const runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'msl-test-'));
  const config = parseConfig({
    ...process.env,
    APP_MODE: 'local',
    DATA_DIR: dataDir,
    MONGODB_DB: `test_${runId}`,
    REDIS_PREFIX: `test:${runId}`,
    // Tests hash many passwords; a smaller scrypt cost keeps them quick on the same code path.
    PASSWORD_KDF_LOG2N: '12',
    // Every sign-in of the run comes from one address (127.0.0.1); the per-address limit has its
    // own tests (test/modules/users/accounts.test.ts) on an app of their own with the default.
    LOGIN_FAILURES_PER_ADDRESS_PER_MINUTE: '100000',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
  });
  const logger = createLogger(config.logLevel);
  let mongoUri = config.mongodbUri;
  if (!mongoUri) {
    embedded = await startEmbeddedDb({
      bin: config.ferretdb.bin,
      handler: config.ferretdb.handler,
      dataDir,
      postgresqlUrl: asynchronousCommit(config.ferretdb.postgresqlUrl),
      busyTimeoutMs: config.ferretdb.sqliteBusyTimeoutMs,
      logger,
    });
    mongoUri = embedded.uri;
  }
  await connectDb(mongoUri, config.mongodbDb, {
    writeLanes: config.dbWriteLanes,
    sqlite: embedded !== undefined && config.ferretdb.handler === 'sqlite',
  });
  await ensureIndexes();
  ownRedis = await resolveRedis(config.redisUrl, dataDir, logger);
  const redis = createApiRedis(ownRedis.url);
  const tokens = createTokenService({
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
    ttlS: config.jwt.accessTokenTtlS,
    keyDir: path.join(dataDir, 'keys'),
  });
  const queues = new Queues(ownRedis.url, config.redisPrefix);
  const app = createApp({ config, logger, redis, tokens, queues });
  current = {
    config,
    app,
    logger,
    redis,
    redisUrl: ownRedis.url,
    tokens,
    queues,
    runId,
    dataDir,
    mongoUri,
  };
  return current;
}

/**
 * FerretDB-PostgreSQL's connections with `synchronous_commit=off` (a PostgreSQL setting passed in
 * the URL): every test file creates a fresh database, i.e. ~60 tables and their indexes, and each
 * of those DDL commits otherwise waits for its WAL flush (measured on this machine: 6–7 s per
 * file, 0.8–1.3 s with it off). It changes nothing a test can see: a commit is visible and its
 * unique indexes decide as before; only a PostgreSQL crash could lose the last commits.
 */
function asynchronousCommit(url: string | undefined): string | undefined {
  if (!url || /[?&]synchronous_commit=/.test(url)) return url;
  return `${url}${url.includes('?') ? '&' : '?'}synchronous_commit=off`;
}

/** Deletes this run's Redis keys only (never FLUSHDB: the Redis may be shared). */
export async function deleteRedisKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
}

export async function stopContext(): Promise<void> {
  if (!current) return;
  const c = current;
  current = undefined;
  await c.queues.close().catch(() => undefined);
  // In parallel mode the next test file in this process gets a fresh database: nothing of this
  // file's may still be writing when it starts (the redemption lease's last renewal would).
  await settleLeaseRenewal();
  await settleBackgroundWrites();
  await deleteRedisKeys(c.redis, c.config.redisPrefix).catch(() => undefined);
  c.redis.disconnect();
  await mongoose.connection.db?.dropDatabase().catch(() => undefined);
  await disconnectDb();
  await embedded?.stop();
  await ownRedis?.stop();
  rmSync(c.dataDir, { recursive: true, force: true });
}
