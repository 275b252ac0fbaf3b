/**
 * Runs a set of job definitions as BullMQ workers: one Worker per queue, sweepers scheduled
 * with a fixed scheduler id (so restarts never duplicate them), graceful close that finishes
 * running jobs and takes no new ones. Used by workers/main.ts and by tests.
 */
import { Queue, Worker } from 'bullmq';
import type { Logger } from '../src/platform/logger';
import {
  bullPrefix,
  connectionFromUrl,
  wrapProcessor,
  type JobDefinition,
} from '../src/platform/queues';

export interface RunningWorkers {
  workers: Worker[];
  close(): Promise<void>;
}

/**
 * How often sweeper schedules are upserted again: a Redis that lost its data (restart without
 * persistence, FLUSHALL) gets its schedules back within this time, without a workers restart.
 */
export const SCHEDULE_REFRESH_MS = 60_000;

export async function runWorkers(
  defs: JobDefinition<unknown>[],
  opts: { redisUrl: string; redisPrefix: string; logger: Logger; scheduleRefreshMs?: number },
): Promise<RunningWorkers> {
  const connection = connectionFromUrl(opts.redisUrl, { maxRetriesPerRequest: null });
  const prefix = bullPrefix(opts.redisPrefix);
  const workers: Worker[] = [];
  const schedulers: Queue[] = [];
  for (const def of defs) {
    const worker = new Worker(def.queue, wrapProcessor(def, opts.logger), {
      connection,
      prefix,
      concurrency: def.concurrency ?? 1,
    });
    worker.on('error', (err) =>
      opts.logger.error({ err, queue: def.queue }, 'worker connection error'),
    );
    workers.push(worker);
    if (def.everyMs) {
      const q = new Queue(def.queue, { connection, prefix });
      await q.upsertJobScheduler(
        `${def.queue}:every`,
        { every: def.everyMs },
        { name: def.queue, data: {}, opts: { removeOnComplete: 100, removeOnFail: 1000 } },
      );
      schedulers.push(q);
    }
  }
  const sweepers = defs.filter((d) => d.everyMs);
  const refresh = setInterval(() => {
    sweepers.forEach((def, i) => {
      schedulers[i]!.upsertJobScheduler(
        `${def.queue}:every`,
        { every: def.everyMs! },
        { name: def.queue, data: {}, opts: { removeOnComplete: 100, removeOnFail: 1000 } },
      ).catch((err: unknown) =>
        opts.logger.warn({ err, queue: def.queue }, 'could not refresh a sweeper schedule'),
      );
    });
  }, opts.scheduleRefreshMs ?? SCHEDULE_REFRESH_MS);
  refresh.unref();
  opts.logger.info({ queues: defs.map((d) => d.queue) }, 'workers started');
  return {
    workers,
    async close() {
      clearInterval(refresh);
      await Promise.all(workers.map((w) => w.close()));
      await Promise.all(schedulers.map((q) => q.close()));
    },
  };
}
