/**
 * The workers' heartbeat. The workers process takes a `heartbeat` job from its queue every
 * WORKERS_HEARTBEAT_MS and records "workers alive at T" in Redis. Because the record is written
 * by a job the workers *took from the queue*, a fresh heartbeat means the workers are connected
 * and processing jobs, not merely that a process exists. The API reads it for /readyz and for
 * the `workers_heartbeat_*` metrics, so a dead or hung workers process is visible from outside.
 *
 * The record is kept for a week (not the stale time): its age keeps growing while the workers
 * are down, so the metric says how long, instead of the key silently disappearing.
 */
import os from 'node:os';
import type { Redis } from 'ioredis';
import { Gauge, type Registry } from 'prom-client';

export const HEARTBEAT_QUEUE = 'heartbeat';
const HEARTBEAT_KEEP_S = 7 * 24 * 3600;

export interface Heartbeat {
  /** When the workers last took a heartbeat job (ISO-8601). */
  at: string;
  pid: number;
  host: string;
}

export function heartbeatKey(redisPrefix: string): string {
  return `${redisPrefix}:workers:heartbeat`;
}

/** Records a heartbeat of this process. */
export async function recordHeartbeat(
  redis: Redis,
  redisPrefix: string,
  at: Date = new Date(),
): Promise<Heartbeat> {
  const beat: Heartbeat = { at: at.toISOString(), pid: process.pid, host: os.hostname() };
  await redis.set(heartbeatKey(redisPrefix), JSON.stringify(beat), 'EX', HEARTBEAT_KEEP_S);
  return beat;
}

/** The last heartbeat, or undefined when the workers never ran (or a week has passed). */
export async function readHeartbeat(
  redis: Redis,
  redisPrefix: string,
): Promise<Heartbeat | undefined> {
  const raw = await redis.get(heartbeatKey(redisPrefix));
  if (!raw) return undefined;
  try {
    const beat = JSON.parse(raw) as Heartbeat;
    return Number.isFinite(Date.parse(beat.at)) ? beat : undefined;
  } catch {
    return undefined;
  }
}

export interface WorkersHealth {
  /** `ok`: a heartbeat within the stale time; `stale`: older or none. */
  state: 'ok' | 'stale';
  lastHeartbeatAt: string | null;
  /** Seconds since the last heartbeat; null when there is none. */
  ageS: number | null;
}

export function workersHealth(
  beat: Heartbeat | undefined,
  staleS: number,
  now: number = Date.now(),
): WorkersHealth {
  if (!beat) return { state: 'stale', lastHeartbeatAt: null, ageS: null };
  const ageS = Math.max(0, (now - Date.parse(beat.at)) / 1000);
  return {
    state: ageS <= staleS ? 'ok' : 'stale',
    lastHeartbeatAt: beat.at,
    ageS: Math.round(ageS * 10) / 10,
  };
}

/**
 * `workers_heartbeat_age_seconds` (+Inf when there has never been one) and
 * `workers_heartbeat_fresh` (1 within WORKERS_HEARTBEAT_STALE_S, else 0), read on each scrape.
 * Alert on `workers_heartbeat_fresh == 0`; a workers container's liveness uses the same age.
 */
export function registerHeartbeatMetrics(
  registry: Registry,
  deps: { redis: Redis; redisPrefix: string; staleS: number },
): void {
  if (registry.getSingleMetric('workers_heartbeat_fresh')) return;
  let inflight: Promise<WorkersHealth | undefined> | undefined;
  const read = () => {
    inflight ??= readHeartbeat(deps.redis, deps.redisPrefix)
      .then((b) => workersHealth(b, deps.staleS))
      .catch(() => undefined)
      .finally(() => {
        inflight = undefined;
      });
    return inflight;
  };
  new Gauge({
    name: 'workers_heartbeat_age_seconds',
    help: 'Seconds since the workers last took a heartbeat job (+Inf: never)',
    registers: [registry],
    async collect() {
      const h = await read();
      if (h) this.set(h.ageS ?? Number.POSITIVE_INFINITY);
    },
  });
  new Gauge({
    name: 'workers_heartbeat_fresh',
    help: `1 when the workers took a heartbeat job within WORKERS_HEARTBEAT_STALE_S (${deps.staleS} s), else 0`,
    registers: [registry],
    async collect() {
      const h = await read();
      this.set(h?.state === 'ok' ? 1 : 0);
    },
  });
}
