/**
 * The workers process: connects to the database and Redis (retrying forever with backoff),
 * runs every job in workers/registry.ts, and on SIGTERM finishes running jobs, takes no new
 * ones and exits. `npm start` runs it beside the API; in production it is its own container
 * command (`node dist/workers/main.js`).
 */
import { Redis } from 'ioredis';
import { loadConfig } from '../config';
import { connectDb, disconnectDb, ensureIndexes } from '../src/platform/db';
import { createLogger } from '../src/platform/logger';
import { connectConfigCache } from '../src/platform/config-cache';
import { DEFAULT_REDIS_URL, workerRedisOptions } from '../src/platform/redis';
import '../src/modules/models';
import { allJobs } from './registry';
import { runWorkers } from './runner';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel).child({ process: 'workers' });
  if (!config.mongodbUri) {
    logger.fatal(
      'MONGODB_URI is required for the workers process (npm start passes the embedded one)',
    );
    process.exit(1);
  }
  const redisUrl = config.redisUrl ?? DEFAULT_REDIS_URL;
  await connectDb(config.mongodbUri, config.mongodbDb, { writeLanes: config.dbWriteLanes });
  await ensureIndexes();
  const redis = new Redis(redisUrl, workerRedisOptions());
  connectConfigCache(redis, config.redisPrefix, config.configCacheTtlMs);
  const running = await runWorkers(allJobs({ redis, redisPrefix: config.redisPrefix, config }), {
    redisUrl,
    redisPrefix: config.redisPrefix,
    logger,
  });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'workers stopping: finishing running jobs');
    await running.close();
    redis.disconnect();
    await disconnectDb();
    logger.info('workers stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`workers failed to start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
