/**
 * BullMQ plumbing shared by the API (which enqueues) and the workers (which process).
 *
 * - Every queue lives under `${REDIS_PREFIX}:bull`, so test runs and deployments sharing one
 *   Redis never see each other's jobs.
 * - Job payloads hold ids only, and job ids are derived from what the job does (e.g.
 *   `post:<submissionId>:<round>`), so enqueueing twice is harmless.
 * - A job definition names its queue, its processor (which calls a module service) and, for
 *   sweepers, a repeat interval. In the processor a DomainError is final (UnrecoverableError);
 *   anything else is retried with exponential backoff.
 * - Anything that must happen even if Redis forgets has a durable record and a sweeper.
 */
import {
  Queue,
  UnrecoverableError,
  type ConnectionOptions,
  type Job,
  type JobsOptions,
} from 'bullmq';
import { DomainError } from './errors';
import type { Logger } from './logger';

/** Retries before a job is parked as failed (listed for an admin), with exponential backoff. */
export const JOB_ATTEMPTS = 8;
export const JOB_BACKOFF_MS = 1000;

export const DEFAULT_JOB_OPTIONS: JobsOptions = {
  attempts: JOB_ATTEMPTS,
  backoff: { type: 'exponential', delay: JOB_BACKOFF_MS },
  // Completed jobs are not needed: the durable records are in the database.
  removeOnComplete: { count: 1000 },
  removeOnFail: { count: 10_000 },
};

export interface JobContext {
  log: Logger;
  attempt: number;
}

export interface JobDefinition<T = unknown> {
  queue: string;
  /** Parallel jobs per worker process. */
  concurrency?: number;
  /** For sweepers: run every `everyMs`, scheduled once under a fixed scheduler id. */
  everyMs?: number;
  process(data: T, ctx: JobContext, job: Job<T>): Promise<unknown>;
}

export function bullPrefix(redisPrefix: string): string {
  return `${redisPrefix}:bull`;
}

export function connectionFromUrl(
  url: string,
  extra: Record<string, unknown> = {},
): ConnectionOptions {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    username: u.username || undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db: u.pathname && u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0,
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    ...extra,
  };
}

/** Queues for enqueueing from the API side: fail fast when Redis is down. */
export class Queues {
  private readonly queues = new Map<string, Queue>();

  constructor(
    private readonly redisUrl: string,
    private readonly redisPrefix: string,
  ) {}

  get(name: string): Queue {
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(name, {
        connection: connectionFromUrl(this.redisUrl, {
          maxRetriesPerRequest: 1,
          enableOfflineQueue: false,
        }),
        prefix: bullPrefix(this.redisPrefix),
        defaultJobOptions: DEFAULT_JOB_OPTIONS,
      });
      q.on('error', () => undefined); // surfaced through the failing add() and /readyz
      this.queues.set(name, q);
    }
    return q;
  }

  /** Adds a job whose id is derived from what it does; a second add of the same id is a no-op. */
  async add(name: string, jobId: string, data: object, opts: JobsOptions = {}): Promise<void> {
    await this.get(name).add(name, data, { ...opts, jobId });
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
  }
}

/** Wraps a processor so DomainErrors are final and every job logs with queue/jobId/attempt. */
export function wrapProcessor<T>(def: JobDefinition<T>, logger: Logger) {
  return async (job: Job<T>) => {
    const log = logger.child({ queue: def.queue, jobId: job.id, attempt: job.attemptsMade + 1 });
    try {
      return await def.process(job.data, { log, attempt: job.attemptsMade + 1 }, job);
    } catch (err) {
      if (err instanceof DomainError) {
        log.warn(
          { code: err.code, err: err.message },
          'job refused by a business rule; not retried',
        );
        throw new UnrecoverableError(`${err.code}: ${err.message}`);
      }
      log.error({ err }, 'job failed; will retry with backoff');
      throw err;
    }
  };
}
