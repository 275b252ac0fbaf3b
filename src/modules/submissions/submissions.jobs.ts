/**
 * The council workflow's jobs.
 *
 * - `submission-notice`: one delayed job per notice, job id `noticeId` =
 *   `notice-<submissionId>-r<round>`, the same string as the notice's durable wake-up
 *   (derived from what it does, so enqueueing twice never duplicates; a new round after an
 *   objection gets a new id, and the old round's job finds its round closed and does nothing).
 *   It runs at noticeEndsAt and posts. If it runs early (clocks apart), it fails with a plain
 *   error and BullMQ retries it with backoff.
 * - `submission-sweep`: every few seconds, reconciles submissions with due wake-ups (durable
 *   records in the database), which covers jobs Redis lost and requests that crashed halfway.
 */
import { clock } from '../../platform/clock';
import { DomainError } from '../../platform/errors';
import type { JobDefinition, Queues } from '../../platform/queues';
import { id, obj, z } from '../../platform/validation';
import { noticeId } from './submission-state';
import { endNotice, sweepDue, type EnqueuePost } from './submissions.service';

export { noticeId } from './submission-state';

export const NOTICE_QUEUE = 'submission-notice';
export const SWEEP_QUEUE = 'submission-sweep';
/** How often the sweeper looks for due wake-ups (an indexed query that is empty when all is well). */
export const SWEEP_EVERY_MS = 5000;
/** Notices ended in parallel per worker process. */
export const NOTICE_CONCURRENCY = 8;

const noticePayload = obj({ submissionId: id(), round: z.number().int().min(1) });

/** The API's way to schedule the end of a notice. */
export function enqueueNoticeWith(queues: Queues): EnqueuePost {
  return async (submissionId, round, noticeEndsAt) => {
    const delay = Math.max(0, noticeEndsAt.getTime() - clock.now().getTime());
    await queues.add(
      NOTICE_QUEUE,
      noticeId(submissionId, round),
      { submissionId, round },
      { delay },
    );
  };
}

export function submissionJobs(
  opts: { sweepEveryMs?: number; enqueuePost?: EnqueuePost } = {},
): JobDefinition[] {
  return [
    {
      queue: NOTICE_QUEUE,
      concurrency: NOTICE_CONCURRENCY,
      async process(data, { log }) {
        const parsed = noticePayload.safeParse(data);
        if (!parsed.success) throw new DomainError('validation_failed', 'bad notice job payload');
        return endNotice(parsed.data.submissionId, parsed.data.round, {
          log,
          enqueuePost: opts.enqueuePost,
        });
      },
    },
    {
      queue: SWEEP_QUEUE,
      concurrency: 1,
      everyMs: opts.sweepEveryMs ?? SWEEP_EVERY_MS,
      async process(_data, { log }) {
        return sweepDue({ log, enqueuePost: opts.enqueuePost, budgetMs: 20_000 });
      },
    },
  ];
}
