/**
 * The bench's server process (forked by bench/main.ts): the real API (`createApp`, as `npm start`
 * serves it, without the workers) on one port, and a plain express app on another with the two
 * comparison routes on the same database:
 *
 *   POST /limit/:householdId    one driver insertOne per request: the database's own limit
 *   POST /medici/:householdId   one medici posting (book.entry().debit().credit().commit())
 *
 * Running the servers in their own process keeps the load generator off their event loop.
 * The parent talks to it over IPC: `{type: 'count', on}` starts or stops counting database
 * round trips (roundtrips.ts), answered with the counts and the commands' times.
 */
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import express from 'express';
import mongoose from 'mongoose';
import { loadConfig } from '../config';
import { createApp } from '../src/app';
import { createTokenService } from '../src/platform/auth';
import { connectDb } from '../src/platform/db';
import { createLogger } from '../src/platform/logger';
import { Queues } from '../src/platform/queues';
import { createApiRedis } from '../src/platform/redis';
import { writeLane } from '../src/platform/write-lane';
import '../src/modules/models';
import { monitoredUri } from './context';
import { mediciBook, mediciPost } from './medici';
import { RoundTripCounter, type CommandCounts, type CommandTimes } from './roundtrips';

export type ServerMessage =
  | { type: 'ready'; apiPort: number; plainPort: number }
  | { type: 'counts'; counts: CommandCounts; times: CommandTimes };
export type ServerCommand = { type: 'count'; on: boolean };

/** The plain comparison app: no auth, no validation beyond a number, no logging. */
function plainApp() {
  const app = express();
  app.use(express.json());
  const limit = mongoose.connection.db!.collection('bench_limit');
  const book = mediciBook();
  app.post('/limit/:householdId', async (req, res) => {
    // A plain app has no write lane (src/platform/write-lane.ts): its writes are sent as they come.
    await writeLane.unqueued(() =>
      limit.insertOne({
        householdId: req.params.householdId,
        points: Number(req.body.points),
        reason: String(req.body.reason),
        at: new Date(),
      }),
    );
    res.status(201).json({ ok: true });
  });
  app.post('/medici/:householdId', async (req, res) => {
    await writeLane.unqueued(() =>
      mediciPost(book, req.params.householdId, Number(req.body.points)),
    );
    res.status(201).json({ ok: true });
  });
  return app;
}

function listen(app: express.Express): Promise<number> {
  return new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () =>
      resolve((server.address() as AddressInfo).port),
    );
    server.keepAliveTimeout = 60_000;
  });
}

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  await connectDb(monitoredUri(config.mongodbUri!), config.mongodbDb, {
    writeLanes: config.dbWriteLanes,
  });
  const counter = new RoundTripCounter(mongoose.connection.getClient());
  const redisUrl = config.redisUrl!;
  const redis = createApiRedis(redisUrl);
  const tokens = createTokenService({
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
    ttlS: config.jwt.accessTokenTtlS,
    keyDir: path.join(config.dataDir, 'keys'),
  });
  const queues = new Queues(redisUrl, config.redisPrefix);
  const apiPort = await listen(createApp({ config, logger, redis, tokens, queues }));
  const plainPort = await listen(plainApp());
  process.on('message', (m: ServerCommand) => {
    if (m.type !== 'count') return;
    if (m.on) counter.start();
    else {
      const counts = counter.stop();
      process.send!({ type: 'counts', counts, times: counter.lastTimes() } satisfies ServerMessage);
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.send!({ type: 'ready', apiPort, plainPort } satisfies ServerMessage);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench server: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
