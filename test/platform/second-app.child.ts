/**
 * A second API process for the config-cache tests: the same database, the same Redis (and key
 * prefix) and the same signing key as the test run, its own in-process caches. Listens on a free
 * loopback port, prints {"port": N} on one line, and serves until its stdin closes.
 *
 * Input (environment): MSL_CHILD_URI, MSL_CHILD_DB, MSL_CHILD_REDIS_URL, MSL_CHILD_REDIS_PREFIX,
 * MSL_CHILD_KEY_DIR.
 */
import type { AddressInfo } from 'node:net';
import { parseConfig } from '../../config';
import { createApp } from '../../src/app';
import { createTokenService } from '../../src/platform/auth';
import { connectDb, disconnectDb } from '../../src/platform/db';
import { createLogger } from '../../src/platform/logger';
import { Queues } from '../../src/platform/queues';
import { createApiRedis } from '../../src/platform/redis';
import '../../src/modules/models';

async function main(): Promise<void> {
  const env = process.env;
  const config = parseConfig({
    ...env,
    APP_MODE: 'local',
    MONGODB_DB: env.MSL_CHILD_DB!,
    REDIS_PREFIX: env.MSL_CHILD_REDIS_PREFIX!,
    LOG_LEVEL: 'silent',
  });
  await connectDb(env.MSL_CHILD_URI!, env.MSL_CHILD_DB!);
  const redis = createApiRedis(env.MSL_CHILD_REDIS_URL!);
  const tokens = createTokenService({
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
    ttlS: config.jwt.accessTokenTtlS,
    keyDir: env.MSL_CHILD_KEY_DIR!,
  });
  const queues = new Queues(env.MSL_CHILD_REDIS_URL!, config.redisPrefix);
  const app = createApp({ config, logger: createLogger('silent'), redis, tokens, queues });
  const server = app.listen(0, '127.0.0.1', () => {
    process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
  });
  process.stdin.resume();
  process.stdin.on('end', () => {
    server.close();
    void queues.close();
    redis.disconnect();
    void disconnectDb().finally(() => process.exit(0));
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
