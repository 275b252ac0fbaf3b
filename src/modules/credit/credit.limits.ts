/**
 * Abuse limits on officer look-ups, kept in Redis so every API process shares them:
 * - a rate limit per officer (CREDIT_LOOKUPS_PER_MINUTE, default 60 a minute) → `rate_limited`;
 * - a daily watch: the distinct households each officer looked up in the UTC day. Crossing
 *   CREDIT_LOOKUPS_PER_DAY_ALERT logs one warning and counts once in
 *   `credit_unusual_lookup_volume_total` (a SET NX marker makes it once per officer and day,
 *   however many API processes see the crossing).
 */
import type { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { DomainError } from '../../platform/errors';
import type { Logger } from '../../platform/logger';
import type { Metrics } from '../../platform/metrics';

/** Daily keys outlive their day a little, so a look-up at 23:59 is still counted. */
const DAY_KEY_TTL_S = 2 * 86_400;

export interface LookupLimits {
  /** Consumes one look-up for the officer; throws `rate_limited` (with Retry-After) when over. */
  consume(officerId: string): Promise<void>;
  /** Notes that the officer looked up this household today; warns once on crossing the threshold. */
  noteHousehold(
    officer: { id: string; cooperativeId: string },
    householdId: string,
    log: Logger,
  ): Promise<void>;
}

export function createLookupLimits(opts: {
  redis: Redis;
  redisPrefix: string;
  perMinute: number;
  perDayAlert: number;
  metrics: Metrics;
}): LookupLimits {
  const limiter = new RateLimiterRedis({
    storeClient: opts.redis,
    keyPrefix: `${opts.redisPrefix}:rl:credit-lookup`,
    points: opts.perMinute,
    duration: 60,
  });
  return {
    async consume(officerId) {
      try {
        await limiter.consume(officerId, 1);
      } catch (err) {
        if (err instanceof RateLimiterRes) {
          throw new DomainError(
            'rate_limited',
            `At most ${opts.perMinute} credit look-ups a minute per officer.`,
            { retryAfterS: err.msBeforeNext / 1000 },
          );
        }
        // Without Redis the limit cannot be kept: refuse rather than serve unlimited look-ups.
        throw new DomainError('unavailable', 'The look-up limiter is unavailable; retry shortly.');
      }
    },
    async noteHousehold(officer, householdId, log) {
      const day = new Date().toISOString().slice(0, 10);
      const key = `${opts.redisPrefix}:credit:daily:${day}:${officer.id}`;
      const replies = await opts.redis
        .multi()
        .sadd(key, householdId)
        .scard(key)
        .expire(key, DAY_KEY_TTL_S)
        .exec();
      const count = Number(replies?.[1]?.[1] ?? 0);
      if (count <= opts.perDayAlert) return;
      const first = await opts.redis.set(`${key}:alerted`, '1', 'EX', DAY_KEY_TTL_S, 'NX');
      if (first !== 'OK') return;
      opts.metrics.creditUnusualVolume.inc({ cooperativeId: officer.cooperativeId });
      log.warn(
        {
          officerId: officer.id,
          cooperativeId: officer.cooperativeId,
          day,
          households: count,
          threshold: opts.perDayAlert,
        },
        'unusual credit look-up volume: an officer looked up more households today than the threshold',
      );
    },
  };
}
