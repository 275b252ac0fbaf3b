/**
 * Council and village actions: votes, objections, appeals and their decisions, and the lists.
 * Part of the council workflow (submissions.service.ts re-exports its verbs).
 */

import { Types } from 'mongoose';
import { clock } from '../../platform/clock';
import { DomainError, forbidden, notFound } from '../../platform/errors';
import { reachesVillage, type Principal } from '../../platform/principal';
import { slots } from './submission-state';
import { Submission, type SubmissionDoc } from './submissions.model';
import { APPEAL_WINDOW_MS, CouncilDeps } from './submissions.deps';
import { councilFaults } from '../../platform/faults';
import { AppealView, SubmissionView, appealOf, appealView, toView } from './submissions.views';
import { readSlot, NewEvent, insertEvent, guarded, dropNoticeWakeup } from './submissions.store';
import { reconcileSubmission } from './submissions.reconcile';
import {
  PUBLIC_STATUSES,
  readingOf,
  publicView,
  viewFor,
  submissionInReach,
  currentState,
} from './submissions.reach';
import type { z } from '../../platform/validation';
import type { objectionSchema } from './submissions.schemas';

export async function getSubmission(p: Principal, id: string): Promise<SubmissionView> {
  const sub = await submissionInReach(p, id);
  const r = await currentState(sub);
  return viewFor(p, r.sub, toView(r.sub, r));
}

export async function castVote(
  p: Principal,
  id: string,
  input: { decision: 'approve' | 'reject'; comment?: string },
  deps: CouncilDeps = {},
): Promise<SubmissionView> {
  const sub = await submissionInReach(p, id);
  if (p.role !== 'council') throw forbidden('Only council members vote.');
  if (p.householdId && sub.householdIds.includes(p.householdId)) {
    throw forbidden(
      'A council member does not vote on a submission about their own household.',
      'vote_on_own_household',
    );
  }
  // The cached state says which round is open; only when it says "not in review" is it checked
  // against the events (the cache may lag after a crash). A vote cast into a round that had
  // already moved on is kept in the history but counted nowhere, and the member is told.
  let round = sub.round;
  if (sub.status !== 'in_review') {
    const { state } = await currentState(sub, deps);
    if (state.status !== 'in_review')
      throw new DomainError(
        'submission_not_in_review',
        `The submission is ${state.status}, not in review.`,
      );
    round = state.round;
  }
  return guarded(id, async () => {
    const vote: NewEvent = {
      slot: slots.vote(round, p.id),
      type: 'vote',
      round,
      by: p.id,
      byRole: p.role,
      decision: input.decision,
    };
    if (input.comment) vote.comment = input.comment;
    if (!(await insertEvent(id, vote)))
      throw new DomainError('vote_already_cast', 'You have already voted in this review round.');
    councilFaults.afterVote?.(id);
    const r = (await reconcileSubmission(id, deps))!;
    if (r.state.round !== round)
      throw new DomainError(
        'review_round_changed',
        'The review round changed while you voted; vote again in the new round.',
      );
    return toView(r.sub, r);
  });
}

export type ObjectionView = z.infer<typeof objectionSchema>;

/** A villager or the clerk objects during the notice: the round closes and a new review begins. */
export async function fileObjection(
  p: Principal,
  id: string,
  input: { reason: string },
  deps: CouncilDeps = {},
): Promise<ObjectionView> {
  const sub = await submissionInReach(p, id);
  if (p.role !== 'household' && p.role !== 'clerk' && p.role !== 'supervisor')
    throw forbidden('Objections come from the village’s households, its clerk or its supervisors.');
  // The cached state is enough to pick the round: the close slot decides whether the objection
  // still counts. Only a cache that says "not in notice" is checked against the events.
  let cached: { status: string; round: number; noticeEndsAt?: Date } = sub;
  if (sub.status !== 'in_notice') cached = (await currentState(sub, deps)).state;
  const now = clock.now();
  if (
    cached.status !== 'in_notice' ||
    !cached.noticeEndsAt ||
    now.getTime() >= cached.noticeEndsAt.getTime()
  ) {
    throw new DomainError(
      'submission_not_in_notice',
      'The submission is not in its public notice.',
    );
  }
  const round = cached.round;
  return guarded(id, async () => {
    // The close slot is what the posting job also fills: whichever insert is first decides.
    if (
      !(await insertEvent(id, {
        slot: slots.close(round),
        type: 'objected',
        round,
        by: p.id,
        byRole: p.role,
        reason: input.reason,
        at: now,
      }))
    ) {
      await reconcileSubmission(id, deps); // the cache was behind: bring it up to date for the next reader
      throw new DomainError('notice_closed', 'The public notice of this round has already closed.');
    }
    await dropNoticeWakeup(id, round);
    const r = (await reconcileSubmission(id, deps))!;
    const event = r.events.find((e) => e.slot === slots.close(round))!;
    const shown =
      readingOf(p, r.sub, r.state.status) === 'whole'
        ? toView(r.sub, r)
        : publicView(toView(r.sub, r));
    return {
      id: event._id,
      submissionId: id,
      round,
      reason: input.reason,
      by: p.id,
      createdAt: now.toISOString(),
      submission: shown,
    };
  });
}

/** The household concerned appeals a posted deduction within 30 days. */
export async function fileAppeal(
  p: Principal,
  id: string,
  input: { reason: string },
  deps: CouncilDeps = {},
): Promise<AppealView> {
  const sub = await submissionInReach(p, id);
  if (p.role !== 'household' || !p.householdId || !sub.householdIds.includes(p.householdId))
    throw forbidden('Only the household concerned may appeal.');
  if (sub.kind !== 'deduction')
    throw new DomainError('appeal_not_deduction', 'Only a deduction can be appealed.');
  const { state } = await currentState(sub, deps);
  if (state.status !== 'posted' || !state.postedAt)
    throw new DomainError('appeal_not_posted', 'Only a posted deduction can be appealed.');
  const deadline = new Date(state.postedAt.getTime() + APPEAL_WINDOW_MS);
  if (clock.now().getTime() > deadline.getTime()) {
    throw new DomainError(
      'appeal_window_closed',
      `The appeal window closed on ${deadline.toISOString()}.`,
      { appealDeadline: deadline.toISOString() },
    );
  }
  return guarded(id, async () => {
    if (
      !(await insertEvent(id, {
        slot: slots.appeal,
        type: 'appealed',
        by: p.id,
        byRole: p.role,
        reason: input.reason,
      }))
    ) {
      throw new DomainError('appeal_already_filed', 'This deduction has already been appealed.');
    }
    const r = (await reconcileSubmission(id, deps))!;
    return appealView(r.sub, r.events, r.state)!;
  });
}

/**
 * Who decides appeals on a submission: the township station of its village, or the county office
 * (admin) above it.
 */
export function mayDecideAppeal(p: Principal, sub: Pick<SubmissionDoc, 'villageId'>): boolean {
  return p.role === 'admin' || (p.role === 'township' && reachesVillage(p, sub.villageId));
}

/** The township decides an appeal (see mayDecideAppeal), with a note the household reads. */
export async function decideAppeal(
  p: Principal,
  id: string,
  input: { outcome: 'upheld' | 'dismissed'; comment?: string; note?: string },
  deps: CouncilDeps = {},
): Promise<AppealView> {
  const sub = await submissionInReach(p, id);
  if (!mayDecideAppeal(p, sub))
    throw forbidden('Appeals are decided by the township station (or the county office).');
  const { state } = await currentState(sub, deps);
  if (!state.appeal) throw notFound('appeal');
  if (state.appeal.status !== 'pending')
    throw new DomainError('appeal_already_decided', 'This appeal has already been decided.');
  return guarded(id, async () => {
    const e: NewEvent = {
      slot: slots.appealDecision,
      type: input.outcome === 'upheld' ? 'appeal_upheld' : 'appeal_dismissed',
      by: p.id,
      byRole: p.role,
    };
    if (input.comment) e.comment = input.comment;
    if (input.note) e.note = input.note;
    if (!(await insertEvent(id, e)))
      throw new DomainError('appeal_already_decided', 'This appeal has already been decided.');
    const r = (await reconcileSubmission(id, deps))!;
    return appealView(r.sub, r.events, r.state)!;
  });
}

export interface ListQuery {
  villageId?: string;
  status?: string;
  householdId?: string;
  before?: string;
  limit?: number;
}

/** A page of submissions (newest first) from the cached state. */
export async function listSubmissions(
  p: Principal,
  q: ListQuery,
): Promise<{ items: SubmissionView[]; next: string | null }> {
  let villageId = q.villageId;
  const filter: Record<string, unknown> = {};
  if (p.role === 'township') {
    // A township station lists its villages' submissions (one village, or all of them).
    if (villageId && !reachesVillage(p, villageId)) throw notFound('village');
    if (!villageId) filter.villageId = { $in: p.villageIds ?? [] };
  } else if (p.role !== 'admin') {
    if (villageId && villageId !== p.villageId) throw notFound('village');
    villageId = p.villageId;
  }
  const limit = q.limit ?? 50;
  if (villageId) filter.villageId = villageId;
  if (q.status) filter.status = q.status;
  if (q.householdId) filter.householdIds = q.householdId;
  if (q.before) filter._id = { $lt: new Types.ObjectId(q.before) };
  // S7: a household lists its own submissions and its neighbours' in notice or posted.
  if (p.role === 'household')
    filter.$or = [{ householdIds: p.householdId ?? '' }, { status: { $in: PUBLIC_STATUSES } }];
  const docs = await Submission.find(filter)
    .sort({ _id: -1 })
    .limit(limit + 1)
    .lean<SubmissionDoc[]>();
  const items = docs.slice(0, limit).map((d) => viewFor(p, d, toView(d)));
  return { items, next: docs.length > limit ? items[items.length - 1]!.id : null };
}

/**
 * Appeals for the township (`villageIds`: a township station's villages only), oldest first: each
 * submission with its appeal (reason, when it was filed, and the decision with its note once
 * decided), read from the appeal's slots by `_id`.
 */
export async function listAppeals(
  status: 'pending' | 'upheld' | 'dismissed',
  limit: number,
  villageIds?: readonly string[],
): Promise<SubmissionView[]> {
  const filter: Record<string, unknown> = { appealStatus: status };
  if (villageIds) filter.villageId = { $in: [...villageIds] };
  const docs = await Submission.find(filter).sort({ _id: 1 }).limit(limit).lean<SubmissionDoc[]>();
  return Promise.all(
    docs.map(async (d) => {
      const id = d._id.toHexString();
      const [filed, decided, reversal] = await Promise.all([
        readSlot(id, slots.appeal),
        readSlot(id, slots.appealDecision),
        readSlot(id, slots.reversal),
      ]);
      const v = toView(d);
      if (filed) v.appeal = appealOf(d, filed, decided, reversal);
      return v;
    }),
  );
}
