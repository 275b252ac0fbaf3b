/**
 * The workers' heartbeat job (see src/modules/jobs/heartbeat.ts): a sweeper taken from the
 * queue every WORKERS_HEARTBEAT_MS that records "workers alive at T" in Redis, so /readyz and
 * /metrics can tell whether the workers are running and taking jobs.
 */
import type { Redis } from 'ioredis';
import type { JobDefinition } from '../src/platform/queues';
import { HEARTBEAT_QUEUE, recordHeartbeat } from '../src/modules/jobs/heartbeat';

export const HEARTBEAT_EVERY_MS = 15_000;

export function heartbeatJob(
  redis: Redis,
  redisPrefix: string,
  everyMs: number = HEARTBEAT_EVERY_MS,
): JobDefinition {
  return {
    queue: HEARTBEAT_QUEUE,
    everyMs,
    async process() {
      return recordHeartbeat(redis, redisPrefix);
    },
  };
}
