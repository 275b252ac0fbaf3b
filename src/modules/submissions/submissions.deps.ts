/**
 * Limits, dependencies and test-only fault hooks shared by the council workflow's steps.
 * Part of the council workflow (submissions.service.ts re-exports its verbs).
 */

import { type Logger } from '../../platform/logger';

/** A deduction may be appealed this long after it posted. */
export const APPEAL_WINDOW_MS = 30 * 24 * 3600_000;
/** A request's guard wake-up becomes due this long after the request began (it has crashed by then). */
export const GUARD_MS = 60_000;
/** Households in one batch submission (one activity: a village clean-up, a volunteer day). */
export const BATCH_LINES_MAX = 500;
/** Events read per submission; a submission has a few dozen (votes, rounds). */
export const EVENTS_MAX = 10_000;
/** Wake-ups read per sweeper batch. */
export const SWEEP_BATCH = 200;
export const SWEEP_CONCURRENCY = 8;

/** Enqueues the delayed job that ends a notice (BullMQ in the API; absent in repairs). */
export type EnqueuePost = (
  submissionId: string,
  round: number,
  noticeEndsAt: Date,
) => Promise<void>;

export interface CouncilDeps {
  enqueuePost?: EnqueuePost;
  log?: Logger;
}
