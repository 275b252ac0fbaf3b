/**
 * The submission state machine as a pure function of its events (no database, table-tested).
 *
 * A submission's truth is its append-only events; each decision point has a *slot* that at most
 * one event can fill (unique (submissionId, slot) in the database), so racing writers are
 * arbitrated by the insert and this function never sees two answers to one question:
 *
 *   filed                         the clerk filed it (round 1 opens)
 *   r{n}-vote-{userId}            one vote per council member per round
 *   r{n}-decision                 notice_started (quorum of approvals) | rejected (majority)
 *   r{n}-close                    objected (round n+1 opens) | notice_ended (no objection in time)
 *   posted                        the ledger entries were written
 *   caps-released                 a rejected submission gave its cap claims back
 *   appeal                        the household appealed a posted deduction
 *   appeal-decision               appeal_upheld | appeal_dismissed
 *   reversal                      the reversal entries of an upheld appeal were written
 *
 * `next` names the step the events already justify but which has not happened yet (e.g. the
 * last vote reached quorum but the request crashed before recording the decision). Whoever
 * reconciles the submission (the request itself, the delayed job, the sweeper) performs it.
 */
import type { z } from '../../platform/validation';
import type { entryRef } from './submissions.schemas';

export const SUBMISSION_STATUSES = ['in_review', 'in_notice', 'posted', 'rejected'] as const;
export type SubmissionStatus = (typeof SUBMISSION_STATUSES)[number];

export const EVENT_TYPES = [
  'filed',
  'vote',
  'notice_started',
  'rejected',
  'objected',
  'notice_ended',
  'posted',
  'caps_released',
  'appealed',
  'appeal_upheld',
  'appeal_dismissed',
  'reversed',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** A ledger entry a submission posted (the shape `entryRef` declares). */
export type PostedEntryRef = z.infer<typeof entryRef>;

/** The fields of an event that the state depends on. */
export interface StateEvent {
  id: string;
  slot: string;
  type: EventType;
  round?: number;
  by?: string;
  decision?: 'approve' | 'reject';
  noticeEndsAt?: Date;
  entries?: PostedEntryRef[];
  at: Date;
}

export type AppealStatus = 'pending' | 'upheld' | 'dismissed';

export type Step =
  'decide_notice' | 'decide_reject' | 'close_notice' | 'post' | 'release_caps' | 'reverse';

export interface DerivedState {
  status: SubmissionStatus;
  round: number;
  approvals: number;
  rejections: number;
  /** Council members who voted in the current round. */
  voters: string[];
  noticeEndsAt?: Date;
  /** The notice ended without objection; the posting is done when `postedAt` is set. */
  noticeEnded: boolean;
  postedAt?: Date;
  entries?: PostedEntryRef[];
  appeal?: {
    id: string;
    status: AppealStatus;
    filedAt: Date;
    decidedAt?: Date;
    reversed: boolean;
    reversalEntries?: PostedEntryRef[];
  };
  next?: Step;
}

export interface StateInput {
  /** Approvals needed (village policy). */
  quorum: number;
  /** Council members entitled to vote on this submission; a majority of them rejecting ends it. */
  eligibleVoters: number;
  /** Whether a rejection must give cap claims back. */
  capsApply: boolean;
  now: Date;
}

export const slots = {
  filed: 'filed',
  vote: (round: number, voterId: string) => `r${round}-vote-${voterId}`,
  decision: (round: number) => `r${round}-decision`,
  close: (round: number) => `r${round}-close`,
  posted: 'posted',
  capsReleased: 'caps-released',
  appeal: 'appeal',
  appealDecision: 'appeal-decision',
  reversal: 'reversal',
} as const;

/**
 * One name for one notice (a submission's public notice in one review round): the `_id` of its
 * durable wake-up and the id of its delayed BullMQ job are this same string, so enqueueing or
 * recording it twice is harmless and either can be found from the other.
 */
export const noticeId = (submissionId: string, round: number): string =>
  `notice-${submissionId}-r${round}`;

/** True when `rejections` is a majority of `eligible` voters. */
export function isRejectingMajority(rejections: number, eligible: number): boolean {
  return eligible > 0 && rejections * 2 > eligible;
}

export function deriveState(events: readonly StateEvent[], input: StateInput): DerivedState {
  const bySlot = new Map<string, StateEvent>();
  for (const e of events) bySlot.set(e.slot, e);
  // Each objection closes a round and opens the next one.
  const round = 1 + events.filter((e) => e.type === 'objected').length;
  const votes = events.filter((e) => e.type === 'vote' && e.round === round);
  const approvals = votes.filter((v) => v.decision === 'approve').length;
  const rejections = votes.filter((v) => v.decision === 'reject').length;
  const state: DerivedState = {
    status: 'in_review',
    round,
    approvals,
    rejections,
    voters: votes
      .map((v) => v.by!)
      .filter(Boolean)
      .sort(),
    noticeEnded: false,
  };

  const decision = bySlot.get(slots.decision(round));
  if (!decision) {
    if (approvals >= input.quorum) state.next = 'decide_notice';
    else if (isRejectingMajority(rejections, input.eligibleVoters)) state.next = 'decide_reject';
    return state;
  }
  if (decision.type === 'rejected') {
    state.status = 'rejected';
    if (input.capsApply && !bySlot.has(slots.capsReleased)) state.next = 'release_caps';
    return state;
  }
  state.status = 'in_notice';
  state.noticeEndsAt = decision.noticeEndsAt;
  const close = bySlot.get(slots.close(round));
  if (!close) {
    if (decision.noticeEndsAt && input.now.getTime() >= decision.noticeEndsAt.getTime())
      state.next = 'close_notice';
    return state;
  }
  // A close of the current round can only be notice_ended: an objection opened a later round.
  state.noticeEnded = true;
  const posted = bySlot.get(slots.posted);
  if (!posted) {
    state.next = 'post';
    return state;
  }
  state.status = 'posted';
  state.postedAt = posted.at;
  state.entries = posted.entries ?? [];

  const appeal = bySlot.get(slots.appeal);
  if (appeal) {
    const decided = bySlot.get(slots.appealDecision);
    const reversal = bySlot.get(slots.reversal);
    state.appeal = {
      id: appeal.id,
      status: !decided ? 'pending' : decided.type === 'appeal_upheld' ? 'upheld' : 'dismissed',
      filedAt: appeal.at,
      reversed: Boolean(reversal),
    };
    if (decided) state.appeal.decidedAt = decided.at;
    if (reversal) state.appeal.reversalEntries = reversal.entries ?? [];
    if (state.appeal.status === 'upheld' && !reversal) state.next = 'reverse';
  }
  return state;
}
