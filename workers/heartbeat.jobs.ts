/**
 * The workers' heartbeat: a sweeper that records "workers alive at T" in Redis every 15 s, so
 * an operator (and /v1/system/workers) can tell whether the workers process is running.
 */
import type { Redis } from 'ioredis';
import type { JobDefinition } from '../src/platform/queues';

export const HEARTBEAT_QUEUE = 'heartbeat';
export const HEARTBEAT_EVERY_MS = 15_000;

export function heartbeatKey(redisPrefix: string): string {
  return `${redisPrefix}:workers:heartbeat`;
}

export function heartbeatJob(redis: Redis, redisPrefix: string): JobDefinition {
  return {
    queue: HEARTBEAT_QUEUE,
    everyMs: HEARTBEAT_EVERY_MS,
    async process() {
      const at = new Date().toISOString();
      await redis.set(heartbeatKey(redisPrefix), JSON.stringify({ at, pid: process.pid }), 'EX', 300);
      return { at };
    },
  };
}
