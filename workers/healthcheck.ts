/**
 * Liveness of a workers container: `node dist/workers/healthcheck.js` exits 0 when the workers
 * took a heartbeat job within WORKERS_HEARTBEAT_STALE_S, else 1 (and 2 when Redis cannot be
 * read). It reads the same heartbeat as /readyz and the workers_heartbeat_* metrics, so the
 * orchestrator restarts a workers process that is dead or hung (alive but taking no job).
 * Prints one JSON line: {state, lastHeartbeatAt, ageS}.
 */
import { Redis } from 'ioredis';
import { loadConfig } from '../config';
import { readHeartbeat, workersHealth } from '../src/modules/jobs/heartbeat';
import { DEFAULT_REDIS_URL } from '../src/platform/redis';

async function main(): Promise<number> {
  const config = loadConfig();
  const redis = new Redis(config.redisUrl ?? DEFAULT_REDIS_URL, {
    lazyConnect: true,
    connectTimeout: 2000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const health = workersHealth(
      await readHeartbeat(redis, config.redisPrefix),
      config.workers.heartbeatStaleS,
    );
    process.stdout.write(`${JSON.stringify(health)}\n`);
    return health.state === 'ok' ? 0 : 1;
  } catch (err) {
    process.stdout.write(
      `${JSON.stringify({ state: 'unknown', error: (err as Error).message })}\n`,
    );
    return 2;
  } finally {
    redis.disconnect();
  }
}

void main().then((code) => process.exit(code));
