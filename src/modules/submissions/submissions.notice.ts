/**
 * The end of a notice (the delayed job and the sweeper take the same path, endNotice), the
 * sweeper over wake-ups, and the posted lines other modules read.
 * Part of the council workflow (submissions.service.ts re-exports its verbs).
 */

import assert from 'node:assert/strict';
import { clock } from '../../platform/clock';
import { slots } from './submission-state';
import { Submission, Wakeup, type SubmissionDoc, type WakeupDoc } from './submissions.model';
import { SWEEP_BATCH, SWEEP_CONCURRENCY, CouncilDeps } from './submissions.deps';
import { sign } from './submissions.views';
import { findSubmission, readSlot, dropNoticeWakeup, closeNotice } from './submissions.store';
import { Reconciled, writeCachedStatus, reconcileSubmission } from './submissions.reconcile';
import { recordPosting } from './submissions.posting';

/** Thrown by the notice job when it ran before the notice ended (clock skew): retried later. */
export class NoticeNotOverError extends Error {
  constructor(readonly noticeEndsAt: Date) {
    super(`the notice ends at ${noticeEndsAt.toISOString()}`);
    this.name = 'NoticeNotOverError';
  }
}

/** Whether the work a wake-up stands for is done (then it may be deleted). */
function wakeupSettled(w: Pick<WakeupDoc, 'kind' | 'round'>, r: Reconciled | undefined): boolean {
  if (!r) return true;
  if (r.state.next) return false;
  if (w.kind === 'guard') return true;
  // A notice wake-up is done when its round is over: objected (a later round), rejected or posted.
  return (
    r.state.round > (w.round ?? 0) || r.state.status === 'posted' || r.state.status === 'rejected'
  );
}

/**
 * The usual way a notice ends, by primary key only: read the round's decision and close slots,
 * close the notice if it is over, post, record the posting, refresh the cache. Returns undefined
 * when the slots say something unusual happened (an objection, a missing decision): the caller
 * then reconciles from the whole history.
 */
async function endNoticeBySlots(
  sub: SubmissionDoc,
  round: number,
): Promise<{ status: string; posted: boolean } | undefined> {
  const id = sub._id.toHexString();
  const decision = await readSlot(id, slots.decision(round));
  if (!decision || decision.type !== 'notice_started' || !decision.noticeEndsAt) return undefined;
  const now = clock.now();
  let close = await readSlot(id, slots.close(round));
  if (!close) {
    if (now.getTime() < decision.noticeEndsAt.getTime())
      throw new NoticeNotOverError(decision.noticeEndsAt);
    close = (await closeNotice(id, round, now)) ?? (await readSlot(id, slots.close(round)));
  }
  if (!close || close.type !== 'notice_ended') return undefined;
  const posted =
    (await readSlot(id, slots.posted)) ??
    (await recordPosting(sub, now)) ??
    (await readSlot(id, slots.posted));
  assert.ok(posted, 'a posting that lost its slot was recorded by the winner');
  await writeCachedStatus(sub, {
    status: 'posted',
    round,
    noticeEndsAt: decision.noticeEndsAt,
    postedAt: posted.at,
  });
  await dropNoticeWakeup(id, round);
  return { status: 'posted', posted: true };
}

/** The delayed job's work: end the notice of `round` and post, once. */
export async function endNotice(
  submissionId: string,
  round: number,
  deps: CouncilDeps = {},
): Promise<{ status: string; posted: boolean }> {
  const sub = await findSubmission(submissionId);
  if (sub) {
    const done = await endNoticeBySlots(sub, round);
    if (done) return done;
  }
  const r = await reconcileSubmission(submissionId, deps);
  if (!r) {
    await dropNoticeWakeup(submissionId, round);
    return { status: 'missing', posted: false };
  }
  if (
    r.state.round === round &&
    r.state.status === 'in_notice' &&
    r.state.noticeEndsAt &&
    !r.state.noticeEnded
  ) {
    throw new NoticeNotOverError(r.state.noticeEndsAt);
  }
  const w = { kind: 'notice' as const, round };
  if (wakeupSettled(w, r)) await dropNoticeWakeup(submissionId, round);
  return { status: r.state.status, posted: r.state.status === 'posted' && r.state.round === round };
}

/** A wake-up's next look when its notice has not ended or its reconcile failed. */
function nextLook(w: WakeupDoc, r: Reconciled | undefined, failed: boolean): Date {
  const now = clock.now().getTime();
  if (failed) return new Date(now + Math.min(3600_000, 5000 * 2 ** Math.min(w.failures, 10)));
  const ends = r?.state.noticeEndsAt?.getTime();
  return new Date(ends && ends > now ? ends : now + 5000);
}

/**
 * One sweeper run: reconciles every submission with a due wake-up (a notice that ended, a
 * request that crashed halfway), in bounded batches, and deletes each wake-up whose work is
 * done. This is what posts every due submission exactly once after Redis lost its jobs.
 */
export async function sweepDue(
  deps: CouncilDeps & { budgetMs?: number } = {},
): Promise<{ reconciled: number; settled: number; failed: number }> {
  const totals = { reconciled: 0, settled: 0, failed: 0 };
  const deadline = Date.now() + (deps.budgetMs ?? 30_000);
  for (;;) {
    const due = await Wakeup.find({ at: { $lte: clock.now() } })
      .sort({ at: 1 })
      .limit(SWEEP_BATCH)
      .lean<WakeupDoc[]>();
    if (!due.length) break;
    for (let i = 0; i < due.length; i += SWEEP_CONCURRENCY) {
      await Promise.all(
        due.slice(i, i + SWEEP_CONCURRENCY).map(async (w) => {
          let r: Reconciled | undefined;
          try {
            if (w.kind === 'notice' && w.round) {
              // endNotice deletes the wake-up once its round is over.
              await endNotice(w.submissionId, w.round, deps);
              totals.reconciled++;
              totals.settled++;
              return;
            }
            r = await reconcileSubmission(w.submissionId, deps);
            totals.reconciled++;
          } catch (err) {
            if (err instanceof NoticeNotOverError) {
              await Wakeup.updateOne({ _id: w._id }, { $set: { at: err.noticeEndsAt } });
              return;
            }
            totals.failed++;
            deps.log?.error(
              { err, submissionId: w.submissionId, wakeup: w._id },
              'reconcile failed; will look again with backoff',
            );
            await Wakeup.updateOne(
              { _id: w._id },
              { $set: { at: nextLook(w, undefined, true), failures: w.failures + 1 } },
            );
            return;
          }
          if (wakeupSettled(w, r)) {
            await Wakeup.deleteOne({ _id: w._id });
            totals.settled++;
          } else {
            await Wakeup.updateOne({ _id: w._id }, { $set: { at: nextLook(w, r, false) } });
          }
        }),
      );
    }
    if (due.length < SWEEP_BATCH || Date.now() > deadline) break;
  }
  return totals;
}

/** Wake-ups overdue by more than `olderThanMs` (stuck work an operator should see). */
export async function countOverdueWakeups(olderThanMs: number): Promise<number> {
  return Wakeup.countDocuments({ at: { $lte: new Date(clock.now().getTime() - olderThanMs) } });
}

/** What a village board shows of one posting. */
export interface PostedLine {
  submissionId: string;
  householdId: string;
  kind: 'award' | 'deduction';
  ruleTitle: string;
  occurredOn: string;
  /** Signed points as posted. */
  points: number;
  postedAt: Date;
  appealStatus?: 'pending' | 'upheld' | 'dismissed';
  /** Set when the submission was filed from a rated service order. */
  serviceOrderId?: string;
}

/** Postings of a village in [from, to), one row per household line, for the boards. */
export async function listPostedLines(
  villageId: string,
  from: Date,
  to: Date,
  limit = 20_000,
): Promise<PostedLine[]> {
  return postedLinesOf(
    await Submission.find({ villageId, postedAt: { $gte: from, $lt: to } })
      .sort({ postedAt: 1 })
      .limit(limit)
      .lean<SubmissionDoc[]>(),
  );
}

/**
 * Postings of some villages in [from, to) (the monthly rankings job: one read for a county, which
 * MongoDB serves from the village_postedAt index and FerretDB-SQLite with one scan).
 */
export async function listPostedLinesBetween(
  villageIds: readonly string[],
  from: Date,
  to: Date,
  limit = 2_000_000,
): Promise<(PostedLine & { villageId: string })[]> {
  const docs = await Submission.find({
    villageId: { $in: [...villageIds] },
    postedAt: { $gte: from, $lt: to },
  })
    .limit(limit)
    .lean<SubmissionDoc[]>();
  const villageOf = new Map(docs.map((d) => [d._id.toHexString(), d.villageId]));
  return postedLinesOf(docs).map((l) => ({ ...l, villageId: villageOf.get(l.submissionId)! }));
}

function postedLinesOf(docs: readonly SubmissionDoc[]): PostedLine[] {
  const out: PostedLine[] = [];
  for (const d of docs) {
    if (d.status !== 'posted' || !d.postedAt) continue;
    for (const l of d.lines) {
      if (l.points === 0) continue;
      const line: PostedLine = {
        submissionId: d._id.toHexString(),
        householdId: l.householdId,
        kind: d.kind,
        ruleTitle: d.ruleTitle,
        occurredOn: d.occurredOn,
        points: sign(d.kind) * l.points,
        postedAt: d.postedAt,
      };
      if (d.appealStatus) line.appealStatus = d.appealStatus;
      if (d.serviceOrderId) line.serviceOrderId = d.serviceOrderId;
      out.push(line);
    }
  }
  return out;
}
