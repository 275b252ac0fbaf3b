/**
 * What an operator sees of the background jobs: the queues under this deployment's prefix,
 * their depth by state (also in /metrics), and the jobs that exhausted their retries (parked
 * as `failed` by BullMQ, listed for an admin, and retryable by hand).
 *
 * Queues are found in Redis (each BullMQ queue keeps a `<prefix>:bull:<name>:meta` hash), so a
 * module that adds a queue needs no registration here. The list is cached briefly because
 * finding it scans the keyspace.
 */
import type { Redis } from 'ioredis';
import { Gauge, type Registry } from 'prom-client';
import { DomainError, notFound, withoutPaths } from '../../platform/errors';
import { bullPrefix, type Queues } from '../../platform/queues';
import { countNotificationsByState } from '../notifications/notifications.service';
import { countOverdueWakeups } from '../submissions/submissions.service';
import { countOverdueOrderWakeups } from '../service-orders/service-orders.reconcile';
import type { z } from '../../platform/validation';
import type { failedJobSchema } from './jobs.schemas';

/** How long a discovered queue list is reused. */
const QUEUE_LIST_TTL_MS = 30_000;
/** A scrape never waits longer than this on Redis or the database. */
const SCRAPE_TIMEOUT_MS = 1500;
/** A wake-up this overdue means the sweeper is not running or keeps failing. */
export const WAKEUP_OVERDUE_MS = 60_000;
export const JOB_STATES = [
  'waiting',
  'active',
  'delayed',
  'failed',
  'completed',
  'paused',
  'prioritized',
] as const;

export interface JobsDeps {
  redis: Redis;
  queues: Queues;
  redisPrefix: string;
}

let cache: { at: number; prefix: string; names: string[] } | undefined;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([
    p,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error('timeout')), ms).unref()),
  ]);
}

/** Forgets the discovered queue list (a test that just made a queue wants it seen at once). */
export function forgetQueueList(): void {
  cache = undefined;
}

/** Names of the queues that exist under this deployment's prefix. */
export async function discoverQueues(deps: JobsDeps): Promise<string[]> {
  const now = Date.now();
  if (cache && cache.prefix === deps.redisPrefix && now - cache.at < QUEUE_LIST_TTL_MS)
    return cache.names;
  const base = `${bullPrefix(deps.redisPrefix)}:`;
  const names = new Set<string>();
  let cursor = '0';
  do {
    const [next, keys] = await deps.redis.scan(cursor, 'MATCH', `${base}*:meta`, 'COUNT', 1000);
    cursor = next;
    for (const k of keys) {
      const name = k.slice(base.length, -':meta'.length);
      if (name && !name.includes(':')) names.add(name);
    }
  } while (cursor !== '0');
  cache = { at: now, prefix: deps.redisPrefix, names: [...names].sort() };
  return cache.names;
}

export type FailedJobView = z.infer<typeof failedJobSchema>;

/** Jobs that exhausted their retries (or were refused by a business rule), newest first. */
export async function listFailedJobs(
  deps: JobsDeps,
  opts: { queue?: string; limit: number },
): Promise<FailedJobView[]> {
  const names = opts.queue ? [opts.queue] : await discoverQueues(deps);
  const out: FailedJobView[] = [];
  for (const name of names) {
    const jobs = await deps.queues.get(name).getFailed(0, opts.limit - 1);
    for (const j of jobs) {
      if (!j) continue;
      out.push({
        queue: name,
        id: String(j.id),
        name: j.name,
        data: j.data,
        failedReason: withoutPaths(j.failedReason ?? ''),
        attemptsMade: j.attemptsMade,
        createdAt: new Date(j.timestamp).toISOString(),
        failedAt: j.finishedOn ? new Date(j.finishedOn).toISOString() : null,
      });
    }
  }
  return out
    .sort((a, b) => (b.failedAt ?? '').localeCompare(a.failedAt ?? ''))
    .slice(0, opts.limit);
}

/** Puts a failed job back in its queue for another round of attempts. */
export async function retryFailedJob(
  deps: JobsDeps,
  queue: string,
  jobId: string,
): Promise<FailedJobView> {
  const job = await deps.queues.get(queue).getJob(jobId);
  if (!job) throw notFound('job');
  if (!(await job.isFailed()))
    throw new DomainError('job_not_failed', 'The job is not in the failed state.');
  await job.retry('failed');
  return {
    queue,
    id: String(job.id),
    name: job.name,
    data: job.data,
    failedReason: withoutPaths(job.failedReason ?? ''),
    attemptsMade: job.attemptsMade,
    createdAt: new Date(job.timestamp).toISOString(),
    failedAt: null,
  };
}

/**
 * Adds gauges to /metrics, collected on each scrape: jobs per queue and state (depth, failures),
 * overdue submission wake-ups, and the notification outbox. A scrape with Redis or the database
 * down reports `background_metrics_up 0` instead of hanging.
 */
interface Snapshot {
  ok: boolean;
  jobs: { queue: string; state: string; n: number }[];
  overdue?: number;
  outbox?: Record<string, number>;
  ordersOverdue?: number;
}

async function readSnapshot(deps: JobsDeps): Promise<Snapshot> {
  const snap: Snapshot = { ok: true, jobs: [] };
  try {
    const names = await withTimeout(discoverQueues(deps), SCRAPE_TIMEOUT_MS);
    for (const name of names) {
      const counts = await withTimeout(
        deps.queues.get(name).getJobCounts(...JOB_STATES),
        SCRAPE_TIMEOUT_MS,
      );
      for (const state of JOB_STATES) snap.jobs.push({ queue: name, state, n: counts[state] ?? 0 });
    }
  } catch {
    snap.ok = false;
  }
  try {
    snap.overdue = await withTimeout(countOverdueWakeups(WAKEUP_OVERDUE_MS), SCRAPE_TIMEOUT_MS);
    snap.outbox = await withTimeout(countNotificationsByState(), SCRAPE_TIMEOUT_MS);
    snap.ordersOverdue = await withTimeout(
      countOverdueOrderWakeups(WAKEUP_OVERDUE_MS),
      SCRAPE_TIMEOUT_MS,
    );
  } catch {
    snap.ok = false;
  }
  return snap;
}

export function registerJobMetrics(registry: Registry, deps: JobsDeps): void {
  if (registry.getSingleMetric('bullmq_jobs')) return; // one app per registry; a second createApp reuses it
  // prom-client collects all metrics of a scrape at once: they share one read of the queues
  // and the database, started by whichever collects first.
  let inflight: Promise<Snapshot> | undefined;
  const snapshot = (): Promise<Snapshot> => {
    inflight ??= readSnapshot(deps).finally(() => {
      inflight = undefined;
    });
    return inflight;
  };
  new Gauge({
    name: 'background_metrics_up',
    help: '1 when this scrape could read the queues and the outbox',
    registers: [registry],
    async collect() {
      this.set((await snapshot()).ok ? 1 : 0);
    },
  });
  new Gauge({
    name: 'bullmq_jobs',
    help: 'Jobs per queue and state (waiting, delayed, active, failed = exhausted retries, …)',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      const snap = await snapshot();
      this.reset();
      for (const j of snap.jobs) this.set({ queue: j.queue, state: j.state }, j.n);
    },
  });
  new Gauge({
    name: 'submission_wakeups_overdue',
    help: `Submission wake-ups overdue by more than ${WAKEUP_OVERDUE_MS / 1000} s (the sweeper is not keeping up)`,
    registers: [registry],
    async collect() {
      const snap = await snapshot();
      if (snap.overdue !== undefined) this.set(snap.overdue);
    },
  });
  new Gauge({
    name: 'service_order_wakeups_overdue',
    help: `Service-order reminder, timeout and rating wake-ups overdue by more than ${WAKEUP_OVERDUE_MS / 1000} s (escalations are late)`,
    registers: [registry],
    async collect() {
      const snap = await snapshot();
      if (snap.ordersOverdue !== undefined) this.set(snap.ordersOverdue);
    },
  });
  new Gauge({
    name: 'notifications_outbox',
    help: 'Notifications by state: pending (not yet sent), dead (gave up after retries)',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const snap = await snapshot();
      for (const [state, n] of Object.entries(snap.outbox ?? {})) this.set({ state }, n);
    },
  });
}
