/**
 * A small in-process cache for configuration that changes rarely and sits behind every request:
 * users and terminals behind a token, stores, villages and their policies, store items and
 * their prices, households (their village and card). Each is read by `_id` on a miss.
 *
 * Invalidation, across processes (API replicas and workers), at once:
 * - every write to a cached collection goes through a mongoose model whose schema carries
 *   `invalidatesConfig` hooks; after the write, and before the caller answers, they raise a
 *   configuration epoch in Redis (`INCR <prefix>:config:epoch`) and empty this process's cache;
 * - every cached value remembers the epoch it was read under, and a read first asks Redis for the
 *   current epoch (one Redis GET, shared by the reads in flight at that moment; never a database
 *   round trip). A value read under another epoch is read again.
 * So a disabled user, a revoked terminal, a new price or a changed village policy is seen by the
 * next request in every process. A process without the services' Redis connection (the CLI: its
 * cache is off, every read goes to the database) raises the epoch once when a command that writes
 * configuration ends (src/cli/config-epoch.ts); after a hand edit in the database, the CLI's
 * `config-changed` does the same. Whatever is still missed (a hand edit and no `config-changed`,
 * Redis unreachable from the CLI) is seen within the cache's lifetime, the most any value lives:
 * `CONFIG_CACHE_TTL_MS`, 60 s by default. The lifetime is a backstop, not the invalidation: a
 * lifetime shorter than a counter's rhythm (a customer every half minute) would have every
 * redemption re-read its terminal, user, card, household and items.
 */
import { randomInt } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Schema } from 'mongoose';

/** How long a cached value lives by default, whatever the epoch says (CONFIG_CACHE_TTL_MS). */
export const CONFIG_TTL_MS_DEFAULT = 60_000;
/** The most a cached value lives in this process (set when the cache is connected). */
let ttlMs = CONFIG_TTL_MS_DEFAULT;
/** Values per cache; the oldest go first. */
const ENTRIES_MAX = 50_000;

let redis: Redis | undefined;
let epochKey = '';
let inFlight: Promise<string | undefined> | undefined;
const caches = new Set<ConfigCache<unknown>>();

/** The Redis key of the configuration epoch of the deployment under `redisPrefix`. */
export const configEpochKey = (redisPrefix: string) => `${redisPrefix}:config:epoch`;

/** Turns the cache on for this process (the API and the workers call it with their Redis). */
export function connectConfigCache(
  r: Redis,
  redisPrefix: string,
  lifetimeMs = CONFIG_TTL_MS_DEFAULT,
): void {
  redis = r;
  epochKey = configEpochKey(redisPrefix);
  ttlMs = lifetimeMs;
  clearConfigCaches();
}

function clearConfigCaches(): void {
  for (const c of caches) c.clear();
}

/**
 * An epoch's first value, where the key is missing (a new deployment, or Redis restarted empty):
 * a random number, so that no value cached under an epoch before a restart matches the epoch
 * after it (from 0, a value cached under epoch 3 before the restart would pass for current once
 * three changes had been made after it, for up to the lifetime).
 */
const firstEpoch = () => String(randomInt(1, 2 ** 47));

/** Gives the epoch key its random first value unless it has one (SET NX: the first writer wins). */
async function ensureEpoch(r: Redis, key: string): Promise<void> {
  await r.set(key, firstEpoch(), 'NX');
}

/** Raises the epoch of the deployment under `key`: every process re-reads what it cached. */
export async function raiseConfigEpoch(r: Redis, key: string): Promise<void> {
  await ensureEpoch(r, key);
  await r.incr(key);
}

async function readEpoch(r: Redis): Promise<string> {
  const v = await r.get(epochKey);
  if (v !== null) return v;
  await ensureEpoch(r, epochKey);
  return (await r.get(epochKey)) ?? '';
}

/** The current epoch (undefined: no Redis, cache off). Concurrent callers share one GET. */
async function currentEpoch(): Promise<string | undefined> {
  const r = redis;
  if (!r || r.status !== 'ready') return undefined;
  if (!inFlight) {
    inFlight = readEpoch(r)
      // An empty answer (the key deleted between the SET and the GET) is no epoch: cache off.
      .then((v) => v || undefined)
      .catch(() => undefined)
      .finally(() => {
        inFlight = undefined;
      });
  }
  return inFlight;
}

/**
 * Records a configuration change: every process re-reads what it cached. Called by the model
 * hooks after each write; a failure to reach Redis is thrown (the caller's request fails rather
 * than leave other processes on an old value for the TTL).
 */
export async function configChanged(): Promise<void> {
  clearConfigCaches();
  const r = redis;
  if (!r) return;
  inFlight = undefined;
  await raiseConfigEpoch(r, epochKey);
  clearConfigCaches();
}

/**
 * A copy of a cached value for one caller: plain objects and arrays are copied (so a caller that
 * changes what it got cannot change what others get), anything else (ObjectId, Date) is shared,
 * being treated as immutable.
 */
function copyOf<T>(value: T): T {
  if (Array.isArray(value)) return value.map(copyOf) as T;
  if (
    value !== null &&
    typeof value === 'object' &&
    Object.getPrototypeOf(value) === Object.prototype
  ) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = copyOf(v);
    return out as T;
  }
  return value;
}

interface Cached<T> {
  value: T | undefined;
  epoch: string;
  at: number;
}

/** One kind of configuration, by `_id`. Missing documents are cached too (as undefined) unless told not to. */
export class ConfigCache<T> {
  private readonly entries = new Map<string, Cached<T>>();
  /** Loads under way, by epoch and id: concurrent misses of one document share one read. */
  private readonly loading = new Map<string, Promise<T | undefined>>();

  constructor(
    readonly name: string,
    /** Whether a missing document is remembered too (false: a miss is read again next time). */
    private readonly cacheMissing = true,
  ) {
    caches.add(this);
  }

  clear(): void {
    this.entries.clear();
    this.loading.clear();
  }

  /** The value for `id`, from the cache when it was read under the current epoch. */
  async get(id: string, load: () => Promise<T | undefined>): Promise<T | undefined> {
    const epoch = await currentEpoch();
    if (epoch === undefined) return load();
    const hit = this.entries.get(id);
    if (hit && hit.epoch === epoch && Date.now() - hit.at < ttlMs) return copyOf(hit.value);
    const key = `${epoch}|${id}`;
    let pending = this.loading.get(key);
    if (!pending) {
      pending = this.loadAndKeep(id, epoch, load).finally(() => this.loading.delete(key));
      this.loading.set(key, pending);
    }
    return copyOf(await pending);
  }

  private async loadAndKeep(
    id: string,
    epoch: string,
    load: () => Promise<T | undefined>,
  ): Promise<T | undefined> {
    const began = Date.now();
    const value = await load();
    // A read begun after a change, under the newer epoch, finished first: keep what it stored.
    const newer = this.entries.get(id);
    if (newer && newer.epoch !== epoch && newer.at >= began) return value;
    this.entries.delete(id);
    if (value === undefined && !this.cacheMissing) return value;
    // Stored under the epoch read before the load: a change during the load leaves it stale,
    // and the next read (under the new epoch) loads again.
    this.entries.set(id, { value: copyOf(value), epoch, at: Date.now() });
    if (this.entries.size > ENTRIES_MAX) this.entries.delete(this.entries.keys().next().value!);
    return value;
  }
}

const WRITE_QUERIES = [
  'updateOne',
  'updateMany',
  'findOneAndUpdate',
  'replaceOne',
  'findOneAndReplace',
  'deleteOne',
  'deleteMany',
  'findOneAndDelete',
] as const;

/**
 * Declares a schema's collection as cached configuration: every write through its model raises
 * the configuration epoch before the write's caller goes on. Call before the model is compiled.
 */
export function invalidatesConfig(schema: Schema): void {
  const bump = async () => configChanged();
  for (const op of WRITE_QUERIES) {
    schema.post(op, { document: false, query: true }, bump);
    if (op === 'updateOne' || op === 'deleteOne')
      schema.post(op, { document: true, query: false }, bump);
  }
  schema.post('save', bump);
  schema.post('insertMany', bump);
  schema.post('bulkWrite', bump);
}
