/**
 * Every job the workers process runs. A module contributes its job definitions here; the
 * definitions call module services and hold no rules of their own.
 */
import type { Redis } from 'ioredis';
import type { Config } from '../config';
import type { JobDefinition } from '../src/platform/queues';
import { heartbeatJob } from './heartbeat.jobs';
import { creditJobsFor } from '../src/modules/credit/credit.jobs';
import { notificationJobs } from '../src/modules/notifications/notifications.jobs';
import { redemptionRecoveryJob } from '../src/modules/redemption/redemption.jobs';
import { submissionJobs } from '../src/modules/submissions/submissions.jobs';
import { serviceOrderJobs } from '../src/modules/service-orders/service-orders.jobs';
import { rankingJobs } from '../src/modules/rankings/rankings.jobs';

export interface WorkerDeps {
  redis: Redis;
  redisPrefix: string;
  /** The service configuration; jobs that need it (credit scoring and exports) run only with it. */
  config?: Config;
}

export function allJobs(deps: WorkerDeps): JobDefinition<unknown>[] {
  return [
    heartbeatJob(deps.redis, deps.redisPrefix, deps.config?.workers.heartbeatMs),
    ...submissionJobs(),
    ...serviceOrderJobs(),
    ...rankingJobs(),
    ...notificationJobs(),
    redemptionRecoveryJob(),
    ...(deps.config ? creditJobsFor(deps.redis, deps.config) : []),
  ] as JobDefinition<unknown>[];
}
