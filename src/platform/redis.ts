/**
 * Redis connections. The API fails fast when Redis is down (`maxRetriesPerRequest` small,
 * offline queue off); workers retry forever (`maxRetriesPerRequest: null`, as BullMQ requires).
 *
 * With no REDIS_URL, 127.0.0.1:6379 is tried; when nothing answers there, Debian's
 * `redis-server` is started on a free loopback port with persistence off.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from './logger';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** A connection for request handling: commands fail quickly instead of queueing while down. */
export function createApiRedis(url: string): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    connectTimeout: 2000,
    lazyConnect: false,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  });
}

/** Options for BullMQ workers: keep retrying forever with backoff. */
export function workerRedisOptions(): RedisOptions {
  return {
    maxRetriesPerRequest: null,
    enableReadyCheck: false,
    retryStrategy: (times) => Math.min(times * 500, 5000),
  };
}

/**
 * Runs `work` on a connection of its own to `url`, made once (no retry, 1 s to connect) and closed
 * after: false when Redis does not answer or `work` fails.
 */
export async function onceAt(url: string, work: (r: Redis) => Promise<boolean>): Promise<boolean> {
  const r = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1000,
  });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return await work(r);
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

const pingOnce = (url: string) => onceAt(url, async (r) => (await r.ping()) === 'PONG');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export interface ResolvedRedis {
  url: string;
  stop(): Promise<void>;
}

/** Returns a reachable Redis URL, starting a private redis-server when allowed and needed. */
export async function resolveRedis(
  configured: string | undefined,
  dataDir: string,
  logger: Logger,
): Promise<ResolvedRedis> {
  const url = configured ?? DEFAULT_REDIS_URL;
  if (await pingOnce(url)) return { url, stop: () => Promise.resolve() };
  if (configured) throw new Error(`Redis at ${configured} does not answer (REDIS_URL)`);
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status !== 0) {
    throw new Error(
      'No Redis answers at 127.0.0.1:6379 and redis-server is not installed. ' +
        'Install it (Debian/Ubuntu: apt-get install redis-server) or set REDIS_URL.',
    );
  }
  const port = await freePort();
  const dir = path.join(dataDir, 'redis');
  mkdirSync(dir, { recursive: true });
  const child: ChildProcess = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
    ],
    { stdio: 'ignore' },
  );
  const own = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  while (!(await pingOnce(own))) {
    if (Date.now() > deadline || child.exitCode !== null)
      throw new Error('redis-server did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  logger.info({ url: own }, 'started a private redis-server');
  return {
    url: own,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
