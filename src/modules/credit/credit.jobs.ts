/**
 * The credit reference's jobs.
 *
 * - `credit-score` (job id `score-<householdId>`, delayed SCORE_DEBOUNCE_MS): recomputes and
 *   caches a household's current score. The fixed job id debounces: postings that arrive while
 *   the job waits add nothing, and the job, running after them, reads them all.
 * - `credit-score-sweep` (every CREDIT_SCORE_SWEEP_MS): the durable side. Entries are the record;
 *   the sweeper reads those posted in the last SWEEP_LOOKBACK window and schedules a rescore for
 *   every household whose cache does not yet cover them, so nothing depends on an in-process
 *   hook or on Redis remembering. It also re-enqueues exports whose job was lost.
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
import { SETTLE_MS } from './credit.inputs';
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
  if (!newest.size) return [];
  const cached = await ScoreCache.find({ _id: { $in: [...newest.keys()] } })
    .select({ _id: 1, throughSeq: 1 })
    .lean<{ _id: string; throughSeq: number }[]>();
  const covered = new Map(cached.map((c) => [c._id, c.throughSeq]));
  const due = [...newest].filter(([h, seq]) => (covered.get(h) ?? 0) < seq).map(([h]) => h);
  for (const h of due)
    await queue.add(
      SCORE_QUEUE,
      { householdId: h },
      { ...SCORE_JOB_OPTIONS, jobId: scoreJobId(h) },
    );
  return due;
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

export function creditJobs(deps: CreditJobDeps): JobDefinition[] {
  let scoreQueue: Queue | undefined;
  let exportQueue: Queue | undefined;
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
    {
      queue: SCORE_SWEEP_QUEUE,
      concurrency: 1,
      everyMs: deps.sweepEveryMs,
      async process(_data, { log }) {
        scoreQueue ??= queue(SCORE_QUEUE);
        exportQueue ??= queue(EXPORT_QUEUE);
        const began = new Date();
        const due = await scheduleRescores(scoreQueue, await sweepSince(deps.sweepEveryMs));
        await markSwept(began);
        const stale = await staleExports(EXPORT_STALE_MS);
        for (const exportId of stale)
          await exportQueue.add(
            EXPORT_QUEUE,
            { exportId },
            { ...EXPORT_JOB_OPTIONS, jobId: exportJobId(exportId) },
          );
        if (stale.length)
          log.warn({ exports: stale }, 're-enqueued credit exports that made no progress');
        return { rescores: due.length, exports: stale.length };
      },
    },
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
