/**
 * Tells the running services that the CLI changed configuration they cache in process
 * (platform/config-cache.ts): the CLI has no Redis connection of its own, so its writes raise no
 * epoch as they go; instead a command that writes configuration raises it once when it ends, and
 * `config-changed` raises it after a hand edit in the database.
 *
 * Which Redis: REDIS_URL when set (the services' own); else the one the running service wrote
 * to `DATA_DIR/run/redis.url` (npm start may have started a private redis-server on a free
 * port); else 127.0.0.1:6379. Where none answers, no service is running with a cache to empty,
 * unless REDIS_URL says otherwise: then the command warns that running services see the change
 * only within their cache's lifetime (CONFIG_CACHE_TTL_MS).
 */
import type { Config } from '../../config';
import { configEpochKey, raiseConfigEpoch } from '../platform/config-cache';
import { DEFAULT_REDIS_URL, onceAt } from '../platform/redis';
import { readRunFile, runFilePathOf } from '../platform/run-files';

/** Where `npm start` writes the URL of the Redis its processes use, while it runs. */
export const redisRunFilePath = (dataDir: string): string => runFilePathOf(dataDir, 'redis.url');

function runFileUrl(dataDir: string): string | undefined {
  const url = readRunFile(dataDir, 'redis.url');
  return url && /^rediss?:\/\//.test(url) ? url : undefined;
}

/** Raises the epoch in the Redis at `url`; false when it does not answer within a second. */
const raiseAt = (url: string, key: string) =>
  onceAt(url, async (r) => {
    await raiseConfigEpoch(r, key);
    return true;
  });

export interface ConfigAnnouncement {
  /** The Redis whose epoch was raised, or undefined when none answered. */
  url: string | undefined;
  /** A line for stderr when running services may not have been told. */
  warning?: string;
}

/** Raises the configuration epoch of the deployment this CLI is configured for (see the module doc). */
export async function announceConfigChange(config: Config): Promise<ConfigAnnouncement> {
  const key = configEpochKey(config.redisPrefix);
  const candidates = config.redisUrl
    ? [config.redisUrl]
    : [...new Set([runFileUrl(config.dataDir), DEFAULT_REDIS_URL].filter((u) => u !== undefined))];
  for (const url of candidates) if (await raiseAt(url, key)) return { url };
  if (!config.redisUrl) return { url: undefined };
  return {
    url: undefined,
    warning:
      `warning: Redis at ${config.redisUrl} did not answer, so running services were not told of ` +
      `this change; they see it within ${config.configCacheTtlMs / 1000} s (CONFIG_CACHE_TTL_MS), ` +
      'or at once after `npm run cli -- config-changed`.',
  };
}
