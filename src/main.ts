/**
 * `npm start`: brings up everything a village office needs on one machine.
 *
 * 1. the database: MONGODB_URI, or the embedded FerretDB in DATA_DIR (its URI is written to
 *    DATA_DIR/run/mongodb.uri while running, so the CLI can reach the same database);
 * 2. Redis: REDIS_URL, else 127.0.0.1:6379, else a private redis-server;
 * 3. indexes, the levels migration (villages created before township and county records
 *    existed are placed under them), the consent-heads migration (consents stored before
 *    consent chains get a head the look-up reads by `_id`), the card-index migration (households
 *    registered before the card index get their entry), the notifications migration (messages
 *    pending before `notifications_due` get their entry), the admin from
 *    ADMIN_USERNAME/ADMIN_PASSWORD, and (local mode) the demo county;
 * 4. the API on PORT, and the workers process as a supervised child: restarted with backoff
 *    (WORKERS_RESTART_DELAY_MS doubling to WORKERS_RESTART_DELAY_MAX_MS) whenever it dies, each
 *    restart logged and counted in `workers_restarts_total`;
 * 5. on SIGTERM/SIGINT: stop taking requests, let the workers finish their jobs, stop the
 *    database and Redis this process started.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Server } from 'node:http';
import { loadConfig, type Config } from '../config';
import { createApp } from './app';
import { createTokenService } from './platform/auth';
import { connectDb, disconnectDb, ensureIndexes } from './platform/db';
import { startEmbeddedDb, type EmbeddedDb } from './platform/embedded-db';
import { createLogger, type Logger } from './platform/logger';
import { createMetrics, type Metrics } from './platform/metrics';
import { Queues } from './platform/queues';
import { createApiRedis, resolveRedis } from './platform/redis';
import { listen } from './platform/server';
import { Supervisor } from './platform/supervisor';
import './modules/models';
import { formatCredentials, seedDemoCounty } from './modules/demo/demo.seed';
import { ensureBootstrapAdmin } from './modules/users/users.service';
import { migrateVillageLevels } from './modules/villages/villages.service';
import { migrateConsentHeads } from './modules/credit/consent-chain';
import { migrateCardIndex } from './modules/households/households.migrations';
import { migrateNotificationsDue } from './modules/notifications/notifications.service';
import { idNumberHasherFor } from './modules/volunteers/id-number';
import { writeLane } from './platform/write-lane';
import { writeRunFile } from './platform/run-files';

/** How long shutdown waits for in-flight requests and running jobs. */
const SHUTDOWN_GRACE_MS = 20_000;

function spawnWorkers(env: NodeJS.ProcessEnv): ChildProcess {
  const isTs = __filename.endsWith('.ts');
  const entry = path.resolve(__dirname, '..', 'workers', isTs ? 'main.ts' : 'main.js');
  const args = isTs ? ['--import', 'tsx', entry] : [entry];
  return spawn(process.execPath, args, { env, stdio: 'inherit' });
}

/** What shutdown undoes, in reverse order of setting up. */
type Cleanups = (() => Promise<void> | void)[];

/** Step 1: MONGODB_URI, or the embedded FerretDB in DATA_DIR (its URI written for the CLI). */
async function startDatabase(
  config: Config,
  logger: Logger,
  cleanups: Cleanups,
): Promise<{ mongoUri: string; embedded?: EmbeddedDb }> {
  if (config.mongodbUri) return { mongoUri: config.mongodbUri };
  const embedded = await startEmbeddedDb({
    bin: config.ferretdb.bin,
    handler: config.ferretdb.handler,
    dataDir: config.dataDir,
    postgresqlUrl: config.ferretdb.postgresqlUrl,
    busyTimeoutMs: config.ferretdb.sqliteBusyTimeoutMs,
    logger,
  });
  const mongoUri = embedded.uri;
  cleanups.push(writeRunFile(config.dataDir, 'mongodb.uri', mongoUri), () => embedded?.stop());
  return { mongoUri, embedded };
}

/** Step 3 in local mode: the demo county, its logins printed the first time. */
async function seedDemo(config: Config, logger: Logger): Promise<void> {
  const credentialsFile = path.join(config.dataDir, 'demo-credentials.txt');
  const credentials = await seedDemoCounty({
    kdfLog2N: config.passwordKdfLog2N,
    idHasher: idNumberHasherFor(config),
    credentialsFile,
    logger,
  });
  if (credentials) {
    process.stdout.write(
      `\n${formatCredentials(credentials)}(also written to ${credentialsFile})\n`,
    );
  } else {
    logger.info(
      { credentialsFile },
      'demo county already seeded; its logins are in the credentials file',
    );
  }
}

/** Step 3: indexes, the migrations, the bootstrap admin, and (local mode) the demo county. */
async function prepareData(config: Config, logger: Logger): Promise<void> {
  await ensureIndexes();
  const placed = await migrateVillageLevels();
  if (placed)
    logger.info(
      { villages: placed },
      'placed villages created before levels existed under their township and county records',
    );
  const heads = await migrateConsentHeads();
  if (heads)
    logger.info({ pairs: heads }, 'wrote consent heads for consents stored before consent chains');
  const cards = await migrateCardIndex();
  if (cards)
    logger.info({ cards }, 'indexed the cards of households registered before the card index');
  const due = await migrateNotificationsDue();
  if (due)
    logger.info({ messages: due }, 'listed the pending messages queued before notifications_due');
  if (await ensureBootstrapAdmin(config.admin, config.passwordKdfLog2N)) {
    logger.info({ username: config.admin?.username }, 'created the admin user from ADMIN_USERNAME');
  }
  if (config.demoSeed) await seedDemo(config, logger);
}

/** Step 4: the API on PORT. */
async function startApi(
  config: Config,
  logger: Logger,
  redisUrl: string,
  metrics: Metrics,
  cleanups: Cleanups,
): Promise<Server> {
  const redis = createApiRedis(redisUrl);
  redis.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));
  cleanups.push(() => redis.disconnect());
  const tokens = createTokenService({
    privateKeyPem: config.jwt.privateKeyPem,
    keyId: config.jwt.keyId,
    previousPublicKeys: config.jwt.previousPublicKeys,
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
    ttlS: config.jwt.accessTokenTtlS,
    keyDir: config.mode === 'local' ? path.join(config.dataDir, 'keys') : undefined,
  });
  const queues = new Queues(redisUrl, config.redisPrefix);
  cleanups.push(() => queues.close());
  const app = createApp({ config, logger, redis, tokens, queues, metrics });
  return listen(app, config.port, config.host);
}

/** Step 4: the workers process as a supervised child, restarted with backoff whenever it dies. */
function startWorkers(
  config: Config,
  logger: Logger,
  env: NodeJS.ProcessEnv,
  metrics: Metrics,
): Supervisor {
  const workers = new Supervisor({
    name: 'workers',
    start: () => spawnWorkers(env),
    logger,
    initialDelayMs: config.workers.restartDelayMs,
    maxDelayMs: config.workers.restartDelayMaxMs,
    onRestart: () => metrics.workersRestarts.inc(),
  });
  workers.start();
  return workers;
}

/** Step 5: on SIGTERM/SIGINT, stop taking requests, let the workers finish, undo the set-up. */
function handleShutdown(
  server: Server,
  workers: Supervisor | undefined,
  cleanups: Cleanups,
  logger: Logger,
): void {
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), SHUTDOWN_GRACE_MS + 5000);
    force.unref();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS).unref();
    });
    await workers?.stop();
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch (err) {
        logger.warn({ err }, 'cleanup step failed');
      }
    }
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const cleanups: Cleanups = [];

  const { mongoUri, embedded } = await startDatabase(config, logger, cleanups);
  const redisInfo = await resolveRedis(config.redisUrl, config.dataDir, logger);
  cleanups.push(() => redisInfo.stop());
  // For the CLI, which tells the services here when it changed their configuration.
  cleanups.push(writeRunFile(config.dataDir, 'redis.url', redisInfo.url));

  await connectDb(mongoUri, config.mongodbDb, {
    writeLanes: config.dbWriteLanes,
    sqlite: embedded !== undefined && config.ferretdb.handler === 'sqlite',
  });
  cleanups.push(() => disconnectDb());
  await prepareData(config, logger);

  const metrics = createMetrics();
  const server = await startApi(config, logger, redisInfo.url, metrics, cleanups);
  const workers = config.startWorkers
    ? startWorkers(
        config,
        logger,
        {
          ...process.env,
          MONGODB_URI: mongoUri,
          // The workers write to the same database: the same lane (write-lane.ts).
          DB_WRITE_LANES: String(writeLane.permits),
          REDIS_URL: redisInfo.url,
          MONGODB_DB: config.mongodbDb,
        },
        metrics,
      )
    : undefined;

  const port = (server.address() as { port: number }).port;
  logger.info({ port }, 'API listening');
  process.stdout.write(
    `\n道德储蓄 Moral Savings Ledger is running.\n` +
      `  Pages:      http://localhost:${port}/app/  (sign in with a demo login above, or DATA_DIR/demo-credentials.txt)\n` +
      `  API docs:   http://localhost:${port}/docs\n` +
      `  Readiness:  http://localhost:${port}/readyz\n` +
      `  Database:   ${embedded ? `embedded FerretDB (${config.ferretdb.handler}) at ${mongoUri}` : 'MONGODB_URI'}\n` +
      `  Redis:      ${redisInfo.url}\n` +
      `Stop with Ctrl-C.\n\n`,
  );
  handleShutdown(server, workers, cleanups, logger);
}

main().catch((err: unknown) => {
  process.stderr.write(`failed to start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
