/**
 * The only code that reads `process.env`. The environment is parsed once against a schema;
 * every problem is printed and the process exits 1. Everything else imports the frozen result.
 *
 * Secrets (JWT signing key, admin password) have no defaults outside local mode: in
 * `APP_MODE=local` (the default, for a laptop or CI) a signing key is generated and kept in the
 * data folder; in `APP_MODE=production` it must be given.
 */
import path from 'node:path';
import { z } from 'zod';
import { parseTrustProxy } from './trust-proxy';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const envSchema = z
  .object({
    /** `local` (default: embedded database, generated keys, demo seed) or `production`. */
    APP_MODE: z.enum(['local', 'production']).default('local'),
    /** HTTP port of the API. */
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    /** Interface the API binds to. */
    HOST: z.string().default('0.0.0.0'),
    /** MongoDB 6+ connection string. Unset: start the embedded FerretDB. */
    MONGODB_URI: z.string().url().optional(),
    /** Database name; the URI's own path wins when it names one. */
    MONGODB_DB: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,48}$/)
      .default('moral_savings'),
    /** Redis for BullMQ, rate limits and locks. Unset: 127.0.0.1:6379, or a redis-server we start. */
    REDIS_URL: z.string().url().optional(),
    /** Prefix of every Redis key and queue, so several deployments or test runs share one Redis. */
    REDIS_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9_:.-]{1,64}$/)
      .default('msl'),
    /** The most a cached configuration value lives (ms); bounds only a hand edit (config-cache.ts). */
    CONFIG_CACHE_TTL_MS: z.coerce.number().int().min(0).max(3_600_000).default(60_000),
    /** Folder of the embedded database, generated keys and demo credentials. */
    DATA_DIR: z.string().default('data'),
    /** Embedded FerretDB backend: `sqlite` (in DATA_DIR) or `postgresql`. */
    FERRETDB_HANDLER: z.enum(['sqlite', 'postgresql']).default('sqlite'),
    /** PostgreSQL URL for FERRETDB_HANDLER=postgresql. */
    FERRETDB_POSTGRESQL_URL: z.string().optional(),
    /** Path of the launcher binary built by tools/bootstrap.mjs. */
    FERRETDB_BIN: z.string().optional(),
    /** SQLite: a write's wait for the write lock before SQLITE_BUSY (src/platform/busy.ts). */
    FERRETDB_SQLITE_BUSY_TIMEOUT_MS: z.coerce.number().int().min(1).max(600_000).default(10_000),
    /** Writes sent to the database at once (src/platform/write-lane.ts); auto: 1 on SQLite. */
    DB_WRITE_LANES: z
      .union([z.literal('auto'), z.coerce.number().int().min(0).max(64)])
      .default('auto'),
    /** Folder of the built pages (web/build.mjs output) served under /app. */
    WEB_DIR: z.string().optional(),
    /** First admin, created on first start against an empty database. */
    ADMIN_USERNAME: z.string().min(1).max(64).optional(),
    ADMIN_PASSWORD: z.string().min(8).max(256).optional(),
    /** PEM (PKCS#8) ES256 private key that signs access tokens. Local mode: generated. */
    JWT_PRIVATE_KEY: z.string().optional(),
    /** Key id (`kid`) of JWT_PRIVATE_KEY. */
    JWT_KEY_ID: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,64}$/)
      .optional(),
    /** JSON object {kid: PEM public key} of retired keys still accepted while tokens age out. */
    JWT_PREVIOUS_PUBLIC_KEYS: z.string().optional(),
    /** `iss` and `aud` claims of access tokens. */
    JWT_ISSUER: z.string().default('moral-savings-ledger'),
    JWT_AUDIENCE: z.string().default('moral-savings-api'),
    /** Access token lifetime in seconds (15 minutes). */
    ACCESS_TOKEN_TTL_S: z.coerce.number().int().min(60).max(3600).default(900),
    /** scrypt cost parameter N as a power of two (15 = 32 MiB per hash). */
    PASSWORD_KDF_LOG2N: z.coerce.number().int().min(10).max(20).default(15),
    /** Failed logins per username per minute before 429. */
    LOGIN_FAILURES_PER_MINUTE: z.coerce.number().int().min(1).default(5),
    /** Failed logins per client address per minute before 429 (many usernames tried from one place). */
    LOGIN_FAILURES_PER_ADDRESS_PER_MINUTE: z.coerce.number().int().min(1).default(20),
    /**
     * Whose X-Forwarded-For gives the client address (express `trust proxy`): `false` (default:
     * the TCP peer), a hop count (`1`), or a comma list of addresses, subnets, loopback, etc.
     */
    TRUST_PROXY: z
      .string()
      .regex(
        /^(false|true|\d{1,2}|[A-Za-z0-9.:/,\s]+)$/,
        'false, a hop count, or a comma list of addresses/subnets',
      )
      .default('false'),
    /** Bearer token that GET /metrics requires (in production /metrics is off without it). */
    METRICS_TOKEN: z
      .string()
      .min(16, 'at least 16 characters')
      .max(256)
      .regex(/^[\x21-\x7e]+$/, 'visible ASCII only')
      .optional(),
    /** Readiness (/readyz) fails when the workers' heartbeat is stale (default true). */
    READY_REQUIRES_WORKERS: bool.default('true'),
    /** Seed a demo county on first start (default: on in local mode). */
    DEMO_SEED: bool.optional(),
    /** pino level. */
    LOG_LEVEL: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info'),
    /** Run the BullMQ workers in a child process of `npm start` (default true). */
    START_WORKERS: bool.default('true'),
    /** How often the workers record their heartbeat (a job they take from the queue), ms. */
    WORKERS_HEARTBEAT_MS: z.coerce.number().int().min(100).max(600_000).default(15_000),
    /** A heartbeat older than this many seconds counts as stale: /readyz fails, workers_heartbeat_fresh is 0. */
    WORKERS_HEARTBEAT_STALE_S: z.coerce.number().int().min(1).max(86_400).default(60),
    /** `npm start`: first delay before restarting a workers process that died, doubling to the maximum. */
    WORKERS_RESTART_DELAY_MS: z.coerce.number().int().min(0).max(600_000).default(1000),
    WORKERS_RESTART_DELAY_MAX_MS: z.coerce.number().int().min(0).max(3_600_000).default(30_000),
    /** PEM (PKCS#8) Ed25519 private key that signs credit exports. Local mode: generated in DATA_DIR/keys. */
    EXPORT_SIGNING_KEY: z.string().optional(),
    /** Key id (`kid`) of EXPORT_SIGNING_KEY, as published in GET /v1/credit/keys. */
    EXPORT_SIGNING_KEY_ID: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,64}$/)
      .optional(),
    /** JSON object {kid: PEM public key} of retired export keys, kept in the JWKS so old exports still verify. */
    EXPORT_PREVIOUS_PUBLIC_KEYS: z.string().optional(),
    /** Folder of finished credit export files (default DATA_DIR/exports). */
    CREDIT_EXPORT_DIR: z.string().optional(),
    /** Credit look-ups per loan officer per minute before 429 rate_limited. */
    CREDIT_LOOKUPS_PER_MINUTE: z.coerce.number().int().min(1).max(100_000).default(60),
    /** Distinct households one officer may look up in a UTC day before a warning log line and metric. */
    CREDIT_LOOKUPS_PER_DAY_ALERT: z.coerce.number().int().min(1).default(200),
    /** Lowest scores of the grades 优秀,良好,中等,一般 (strictly falling, 0–1000); below the last is 较差. */
    CREDIT_GRADE_THRESHOLDS: z
      .string()
      .regex(/^\d{1,4}(,\d{1,4}){3}$/, 'four whole numbers, e.g. 800,650,500,350')
      .default('800,650,500,350'),
    /** How often the scoring sweeper looks for newly posted entries to rescore (ms). */
    CREDIT_SCORE_SWEEP_MS: z.coerce.number().int().min(500).max(3_600_000).default(5000),
    /**
     * Secret key (base64, at least 32 bytes) of the keyed hash that stands for a volunteer's ID
     * number: the number itself is never stored. Local mode: generated in DATA_DIR/keys. It must
     * never change (a new key would let every volunteer register a second time).
     */
    VOLUNTEER_ID_KEY: z
      .string()
      .refine(
        (s) => Buffer.from(s, 'base64').length >= 32,
        'must be at least 32 bytes, base64-encoded',
      )
      .optional(),
  })
  .superRefine((env, ctx) => {
    if (env.APP_MODE === 'production') {
      if (!env.MONGODB_URI)
        ctx.addIssue({ code: 'custom', path: ['MONGODB_URI'], message: 'required in production' });
      if (!env.REDIS_URL)
        ctx.addIssue({ code: 'custom', path: ['REDIS_URL'], message: 'required in production' });
      if (!env.JWT_PRIVATE_KEY || !env.JWT_KEY_ID)
        ctx.addIssue({
          code: 'custom',
          path: ['JWT_PRIVATE_KEY'],
          message: 'JWT_PRIVATE_KEY and JWT_KEY_ID are required in production',
        });
      if (!env.EXPORT_SIGNING_KEY || !env.EXPORT_SIGNING_KEY_ID)
        ctx.addIssue({
          code: 'custom',
          path: ['EXPORT_SIGNING_KEY'],
          message: 'EXPORT_SIGNING_KEY and EXPORT_SIGNING_KEY_ID are required in production',
        });
      if (!env.VOLUNTEER_ID_KEY)
        ctx.addIssue({
          code: 'custom',
          path: ['VOLUNTEER_ID_KEY'],
          message: 'required in production',
        });
    }
    if (env.FERRETDB_HANDLER === 'postgresql' && !env.FERRETDB_POSTGRESQL_URL && !env.MONGODB_URI)
      ctx.addIssue({
        code: 'custom',
        path: ['FERRETDB_POSTGRESQL_URL'],
        message: 'required with FERRETDB_HANDLER=postgresql',
      });
    if (Boolean(env.EXPORT_SIGNING_KEY) !== Boolean(env.EXPORT_SIGNING_KEY_ID))
      ctx.addIssue({
        code: 'custom',
        path: ['EXPORT_SIGNING_KEY_ID'],
        message: 'EXPORT_SIGNING_KEY and EXPORT_SIGNING_KEY_ID go together',
      });
    const grades = env.CREDIT_GRADE_THRESHOLDS.split(',').map(Number);
    if (grades.some((g, i) => g > 1000 || (i > 0 && g >= grades[i - 1]!)))
      ctx.addIssue({
        code: 'custom',
        path: ['CREDIT_GRADE_THRESHOLDS'],
        message: 'must fall strictly and lie within 0–1000',
      });
    if (env.WORKERS_HEARTBEAT_STALE_S * 1000 <= env.WORKERS_HEARTBEAT_MS)
      ctx.addIssue({
        code: 'custom',
        path: ['WORKERS_HEARTBEAT_STALE_S'],
        message: 'must be longer than WORKERS_HEARTBEAT_MS',
      });
    if (Boolean(env.ADMIN_USERNAME) !== Boolean(env.ADMIN_PASSWORD))
      ctx.addIssue({
        code: 'custom',
        path: ['ADMIN_PASSWORD'],
        message: 'ADMIN_USERNAME and ADMIN_PASSWORD go together',
      });
  });

export type Config = Readonly<{
  mode: 'local' | 'production';
  port: number;
  host: string;
  mongodbUri: string | undefined;
  mongodbDb: string;
  /** DB_WRITE_LANES; undefined: auto (by backend, at connect). */
  dbWriteLanes: number | undefined;
  redisUrl: string | undefined;
  redisPrefix: string;
  configCacheTtlMs: number;
  dataDir: string;
  /** The built pages served under /app (dist/web). */
  webDir: string;
  ferretdb: Readonly<{
    handler: 'sqlite' | 'postgresql';
    postgresqlUrl: string | undefined;
    bin: string;
    sqliteBusyTimeoutMs: number;
  }>;
  admin: Readonly<{ username: string; password: string }> | undefined;
  jwt: Readonly<{
    privateKeyPem: string | undefined;
    keyId: string | undefined;
    previousPublicKeys: Readonly<Record<string, string>>;
    issuer: string;
    audience: string;
    accessTokenTtlS: number;
  }>;
  passwordKdfLog2N: number;
  loginFailuresPerMinute: number;
  loginFailuresPerAddressPerMinute: number;
  /** express `trust proxy`: false, a hop count, or a list of trusted proxy addresses/subnets. */
  trustProxy: boolean | number | string[];
  /** GET /metrics needs this bearer token when set; in production /metrics is off without one. */
  metricsToken: string | undefined;
  demoSeed: boolean;
  logLevel: string;
  startWorkers: boolean;
  workers: Readonly<{
    heartbeatMs: number;
    heartbeatStaleS: number;
    readyRequiresWorkers: boolean;
    restartDelayMs: number;
    restartDelayMaxMs: number;
  }>;
  credit: Readonly<{
    /** Export signing: current private key and kid (generated in local mode when absent), retired public keys. */
    signing: Readonly<{
      privateKeyPem: string | undefined;
      keyId: string | undefined;
      previousPublicKeys: Readonly<Record<string, string>>;
    }>;
    exportDir: string;
    lookupsPerMinute: number;
    lookupsPerDayAlert: number;
    /** Lowest scores of 优秀, 良好, 中等, 一般. */
    gradeThresholds: readonly [number, number, number, number];
    scoreSweepMs: number;
  }>;
  /** The keyed hash of volunteers' ID numbers (generated in local mode when absent). */
  volunteerIdKey: string | undefined;
}>;

type Env = z.infer<typeof envSchema>;
/** Retired public keys given as a JSON object {kid: PEM}, else a configuration error. */
function previousPublicKeys(raw: string | undefined, name: string): Record<string, string> {
  if (!raw) return {};
  try {
    return z.record(z.string()).parse(JSON.parse(raw));
  } catch {
    throw new Error(`invalid configuration:\n  ${name}: must be a JSON object {kid: PEM}`);
  }
}

/** The built pages: WEB_DIR, else next to the code. */
function webDirOf(e: Env): string {
  // From the sources (config/) the build is ../dist/web; compiled (dist/config/) it is ../web.
  return path.resolve(
    e.WEB_DIR ??
      (path.basename(path.resolve(__dirname, '..')) === 'dist'
        ? path.resolve(__dirname, '..', 'web')
        : path.resolve(__dirname, '..', 'dist', 'web')),
  );
}

function jwtConfig(e: Env, previous: Record<string, string>): Config['jwt'] {
  return Object.freeze({
    privateKeyPem: e.JWT_PRIVATE_KEY,
    keyId: e.JWT_KEY_ID,
    previousPublicKeys: Object.freeze(previous),
    issuer: e.JWT_ISSUER,
    audience: e.JWT_AUDIENCE,
    accessTokenTtlS: e.ACCESS_TOKEN_TTL_S,
  });
}

function workersConfig(e: Env): Config['workers'] {
  return Object.freeze({
    heartbeatMs: e.WORKERS_HEARTBEAT_MS,
    heartbeatStaleS: e.WORKERS_HEARTBEAT_STALE_S,
    readyRequiresWorkers: e.READY_REQUIRES_WORKERS,
    restartDelayMs: e.WORKERS_RESTART_DELAY_MS,
    restartDelayMaxMs: Math.max(e.WORKERS_RESTART_DELAY_MS, e.WORKERS_RESTART_DELAY_MAX_MS),
  });
}

function creditConfig(
  e: Env,
  dataDir: string,
  previousExportKeys: Record<string, string>,
): Config['credit'] {
  return Object.freeze({
    signing: Object.freeze({
      privateKeyPem: e.EXPORT_SIGNING_KEY,
      keyId: e.EXPORT_SIGNING_KEY_ID,
      previousPublicKeys: Object.freeze(previousExportKeys),
    }),
    exportDir: path.resolve(e.CREDIT_EXPORT_DIR ?? path.join(dataDir, 'exports')),
    lookupsPerMinute: e.CREDIT_LOOKUPS_PER_MINUTE,
    lookupsPerDayAlert: e.CREDIT_LOOKUPS_PER_DAY_ALERT,
    gradeThresholds: Object.freeze(
      e.CREDIT_GRADE_THRESHOLDS.split(',').map(Number),
    ) as unknown as readonly [number, number, number, number],
    scoreSweepMs: e.CREDIT_SCORE_SWEEP_MS,
  });
}

/** Parses an environment (default: process.env); throws with every problem listed. */
export function parseConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(env)'}: ${i.message}`);
    throw new Error(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const previous = previousPublicKeys(e.JWT_PREVIOUS_PUBLIC_KEYS, 'JWT_PREVIOUS_PUBLIC_KEYS');
  const previousExportKeys = previousPublicKeys(
    e.EXPORT_PREVIOUS_PUBLIC_KEYS,
    'EXPORT_PREVIOUS_PUBLIC_KEYS',
  );
  const dataDir = path.resolve(e.DATA_DIR);
  return Object.freeze({
    mode: e.APP_MODE,
    port: e.PORT,
    host: e.HOST,
    mongodbUri: e.MONGODB_URI,
    mongodbDb: e.MONGODB_DB,
    dbWriteLanes: e.DB_WRITE_LANES === 'auto' ? undefined : e.DB_WRITE_LANES,
    redisUrl: e.REDIS_URL,
    redisPrefix: e.REDIS_PREFIX,
    configCacheTtlMs: e.CONFIG_CACHE_TTL_MS,
    dataDir,
    webDir: webDirOf(e),
    ferretdb: Object.freeze({
      handler: e.FERRETDB_HANDLER,
      postgresqlUrl: e.FERRETDB_POSTGRESQL_URL,
      bin: e.FERRETDB_BIN ?? path.resolve(__dirname, '..', 'bin', 'ferretdb-launcher'),
      sqliteBusyTimeoutMs: e.FERRETDB_SQLITE_BUSY_TIMEOUT_MS,
    }),
    admin:
      e.ADMIN_USERNAME && e.ADMIN_PASSWORD
        ? Object.freeze({ username: e.ADMIN_USERNAME, password: e.ADMIN_PASSWORD })
        : undefined,
    jwt: jwtConfig(e, previous),
    passwordKdfLog2N: e.PASSWORD_KDF_LOG2N,
    loginFailuresPerMinute: e.LOGIN_FAILURES_PER_MINUTE,
    loginFailuresPerAddressPerMinute: e.LOGIN_FAILURES_PER_ADDRESS_PER_MINUTE,
    trustProxy: parseTrustProxy(e.TRUST_PROXY),
    metricsToken: e.METRICS_TOKEN,
    demoSeed: e.DEMO_SEED ?? e.APP_MODE === 'local',
    logLevel: e.LOG_LEVEL,
    startWorkers: e.START_WORKERS,
    workers: workersConfig(e),
    credit: creditConfig(e, dataDir, previousExportKeys),
    volunteerIdKey: e.VOLUNTEER_ID_KEY,
  });
}

let cached: Config | undefined;

/** The process configuration, parsed on first use; prints every problem and exits 1 if invalid. */
export function loadConfig(): Config {
  if (!cached) {
    try {
      cached = parseConfig();
    } catch (err) {
      process.stderr.write(`${(err as Error).message}\n`);
      process.exit(1);
    }
  }
  return cached;
}
