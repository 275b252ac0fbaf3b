/**
 * The credit reference's jobs.
 *
 * - `credit-score` (job id `score-<householdId>`, delayed SCORE_DEBOUNCE_MS): recomputes and
 *   caches a household's current score. The fixed job id debounces: postings that arrive while
 *   the job waits add nothing, and the job, running after them, reads them all.
 * - `credit-score-sweep` (every CREDIT_SCORE_SWEEP_MS): the durable side. Entries are the record;
 *   the sweeper reads those posted since its last sweep and schedules a rescore for every
 *   household whose cache does not yet cover them, so nothing depends on an in-process hook or
 *   on Redis remembering; after each such read it rests nine times as long as the read took
 *   (SWEEP_REST_FACTOR). It also re-enqueues exports whose job was lost, and once a month
 *   memoises every village's level for the month (ensureMonthLevels), at every interval.
 * - `credit-export` (job id `export-<exportId>`): runs one export; a DomainError or the last
 *   attempt marks the export failed.
 */
import { Queue, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../../../config';
import { DomainError } from '../../platform/errors';
import { bullPrefix, JOB_ATTEMPTS, type JobDefinition } from '../../platform/queues';
import { id, obj } from '../../platform/validation';
import { streamEntries, type EntryType } from '../ledger/ledger.service';
import { ensureMonthLevels, settledBefore, SETTLE_MS } from './credit.inputs';
import { CURRENT_MODEL } from './credit.score';
import { signingKeysFor, type SigningKeys } from './credit.keys';
import { ScoreCache, SweepMark } from './credit.model';
import { runExport } from './credit.export-run';
import { EXPORT_QUEUE, exportJobId, failExport, staleExports } from './credit.exports';
import { refreshCachedScore, type CreditSettings } from './credit.service';

export const SCORE_QUEUE = 'credit-score';
export const SCORE_SWEEP_QUEUE = 'credit-score-sweep';
/** Wait after a posting before rescoring; must exceed SETTLE_MS so the rescore sees the posting. */
export const SCORE_DEBOUNCE_MS = SETTLE_MS + 1000;
/** An export whose record has not moved for this long is re-enqueued (its job id dedupes). */
export const EXPORT_STALE_MS = 10 * 60_000;
/** Entries whose types can move a score (spending cannot). */
const SCORED_TYPES: readonly EntryType[] = ['award', 'deduction', 'adjustment', 'reversal'];

export const scoreJobId = (householdId: string) => `score-${householdId}`;

const scorePayload = obj({ householdId: id() });
const exportPayload = obj({ exportId: id() });

/** Completed jobs are removed so the same id can be scheduled again after they ran. */
export const SCORE_JOB_OPTIONS = {
  delay: SCORE_DEBOUNCE_MS,
  removeOnComplete: true,
  removeOnFail: true,
} as const;
export const EXPORT_JOB_OPTIONS = {
  removeOnComplete: true,
  removeOnFail: { count: 1000 },
} as const;

/** How far back the sweeper reads entries: several sweeps, so one missed sweep loses nothing. */
export const sweepLookbackMs = (sweepEveryMs: number) => Math.max(4 * sweepEveryMs, 30_000);

/** Entries can become visible a little after their postedAt (a slow insert): read this far before the mark. */
const SWEEP_MARK_MARGIN_MS = 60_000;
const SCORE_SWEEP_MARK = 'score';
/** Cached scores a sweep reads at once (each by `_id`). */
const CACHE_READS_PARALLEL = 32;

/**
 * Where a sweep starts reading: the look-back window, or further back to the last successful
 * sweep's start (less a margin) when that is older, so a delayed sweep still sees every entry
 * posted since the last one that finished.
 */
export async function sweepSince(sweepEveryMs: number, now = Date.now()): Promise<Date> {
  const window = now - sweepLookbackMs(sweepEveryMs);
  const mark = await SweepMark.findById(SCORE_SWEEP_MARK).lean();
  const fromMark = mark ? mark.through.getTime() - SWEEP_MARK_MARGIN_MS : window;
  return new Date(Math.min(window, fromMark));
}

/** Records that a sweep which began at `began` has scheduled everything before it. */
export async function markSwept(began: Date): Promise<void> {
  await SweepMark.updateOne(
    { _id: SCORE_SWEEP_MARK },
    { $set: { through: began } },
    { upsert: true },
  );
}

/**
 * Schedules a rescore for households with entries posted since `since` that their cached score
 * does not cover. Returns the households scheduled.
 */
export async function scheduleRescores(queue: Pick<Queue, 'add'>, since: Date): Promise<string[]> {
  const newest = new Map<string, number>();
  for await (const e of streamEntries(SCORED_TYPES, { after: since }))
    newest.set(e.householdId, Math.max(e.seq, newest.get(e.householdId) ?? 0));
  // Each cached score by `_id` alone, some at a time: `{_id: {$in: …}}` would read the whole
  // score cache (one document per household) on FerretDB's SQLite backend at every sweep.
  const due: string[] = [];
  const households = [...newest];
  for (let i = 0; i < households.length; i += CACHE_READS_PARALLEL) {
    const some = households.slice(i, i + CACHE_READS_PARALLEL);
    const cached = await Promise.all(
      some.map(([h]) =>
        ScoreCache.findById(h).select({ throughSeq: 1 }).lean<{ throughSeq: number }>(),
      ),
    );
    some.forEach(([h, seq], k) => {
      if ((cached[k]?.throughSeq ?? 0) < seq) due.push(h);
    });
  }
  for (const h of due)
    await queue.add(
      SCORE_QUEUE,
      { householdId: h },
      { ...SCORE_JOB_OPTIONS, jobId: scoreJobId(h) },
    );
  return due;
}

/**
 * How long the rescore sweep rests after a sweep, in multiples of that sweep's duration. The
 * sweep reads the entries posted since its mark, and on FerretDB's SQLite backend that filter
 * reads every entry of the ledger in Go: its cost grows with the ledger, not with what was
 * posted. At 10,000 households one sweep took 9 s, longer than the 5 s interval, so the
 * workers read the whole ledger back to back, beside every posting and redemption. Resting nine
 * durations keeps the sweep to at most a tenth of the time whatever the ledger's size, and misses
 * nothing: a later sweep reads from the last one's mark. Postings are rescored by their own jobs;
 * the sweep only catches what Redis lost, so it may come later on a large ledger (on MongoDB,
 * where the filter uses its index, a sweep takes milliseconds and runs at every interval).
 */
export const SWEEP_REST_FACTOR = 9;

/** Paces a repeated piece of work by its own duration (see SWEEP_REST_FACTOR). */
export function restingPacer(now: () => number = () => performance.now()) {
  let last: { endedAt: number; tookMs: number } | undefined;
  return {
    /** Whether the rest after the last run is over (always, before the first run). */
    due(): boolean {
      return !last || now() - last.endedAt >= last.tookMs * SWEEP_REST_FACTOR;
    },
    async run<T>(work: () => Promise<T>): Promise<T> {
      const t0 = now();
      try {
        return await work();
      } finally {
        const t1 = now();
        last = { endedAt: t1, tookMs: t1 - t0 };
      }
    },
  };
}

export interface CreditJobDeps {
  /** The workers' Redis connection (retries forever), used to enqueue from the sweeper. */
  redis: Redis;
  redisPrefix: string;
  keys: SigningKeys;
  exportDir: string;
  settings: CreditSettings;
  sweepEveryMs: number;
}

/**
 * The sweeper: memoises the month's village levels once a month (ensureMonthLevels), schedules
 * rescores from the entries posted since its last read (resting after each read, see
 * SWEEP_REST_FACTOR) and re-enqueues stale exports at every interval.
 */
function scoreSweepJob(deps: CreditJobDeps, queue: (name: string) => Queue): JobDefinition {
  let scoreQueue: Queue | undefined;
  let exportQueue: Queue | undefined;
  const pacer = restingPacer();
  const sweepRescores = async (to: Queue) => {
    const began = new Date();
    const due = await scheduleRescores(to, await sweepSince(deps.sweepEveryMs));
    await markSwept(began);
    return due.length;
  };
  return {
    queue: SCORE_SWEEP_QUEUE,
    concurrency: 1,
    everyMs: deps.sweepEveryMs,
    async process(_data, { log }) {
      scoreQueue ??= queue(SCORE_QUEUE);
      exportQueue ??= queue(EXPORT_QUEUE);
      const to = scoreQueue;
      // The month's village levels, once per month, before an officer's look-up needs them.
      const levels = await ensureMonthLevels(CURRENT_MODEL, settledBefore());
      const rescores = pacer.due() ? await pacer.run(() => sweepRescores(to)) : 'resting';
      const stale = await staleExports(EXPORT_STALE_MS);
      for (const exportId of stale)
        await exportQueue.add(
          EXPORT_QUEUE,
          { exportId },
          { ...EXPORT_JOB_OPTIONS, jobId: exportJobId(exportId) },
        );
      if (stale.length)
        log.warn({ exports: stale }, 're-enqueued credit exports that made no progress');
      return { rescores, exports: stale.length, ...(levels ? { levels: 'computed' } : {}) };
    },
  };
}

export function creditJobs(deps: CreditJobDeps): JobDefinition[] {
  const queue = (name: string) =>
    new Queue(name, { connection: deps.redis, prefix: bullPrefix(deps.redisPrefix) });

  return [
    {
      queue: SCORE_QUEUE,
      concurrency: 4,
      async process(data) {
        const parsed = scorePayload.safeParse(data);
        if (!parsed.success) throw new DomainError('validation_failed', 'bad score job payload');
        const view = await refreshCachedScore(parsed.data.householdId, deps.settings);
        return view ? { score: view.score, asOf: view.asOf } : { skipped: 'no such household' };
      },
    },
    scoreSweepJob(deps, queue),
    {
      queue: EXPORT_QUEUE,
      concurrency: 1,
      async process(data, { log, attempt }, job: Job) {
        const parsed = exportPayload.safeParse(data);
        if (!parsed.success) throw new DomainError('validation_failed', 'bad export job payload');
        const { exportId } = parsed.data;
        try {
          return await runExport(exportId, {
            keys: deps.keys,
            exportDir: deps.exportDir,
            settings: deps.settings,
            log,
            onProgress: (p) => job.updateProgress(p),
          });
        } catch (err) {
          const attempts = job.opts.attempts ?? JOB_ATTEMPTS;
          // The reason is shown to the officer: a business rule's own message, else a generic
          // one (the error itself, which may name server paths, is in the log with the export id).
          if (err instanceof DomainError) await failExport(exportId, err.message);
          else if (attempt >= attempts)
            await failExport(
              exportId,
              `导出未能完成：服务器内部错误，已记录（导出编号 ${exportId}），请联系县里管理员后重新导出。`,
            );
          throw err;
        }
      },
    },
  ];
}

/** The credit jobs as the workers process runs them, from the service configuration. */
export function creditJobsFor(redis: Redis, config: Config): JobDefinition[] {
  return creditJobs({
    redis,
    redisPrefix: config.redisPrefix,
    keys: signingKeysFor(config),
    exportDir: config.credit.exportDir,
    settings: { gradeThresholds: config.credit.gradeThresholds },
    sweepEveryMs: config.credit.scoreSweepMs,
  });
}
