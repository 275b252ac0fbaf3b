/**
 * Views: what a submission, its lines, its appeal and its history look like from outside.
 * Part of the council workflow (submissions.service.ts re-exports its verbs).
 */

import assert from 'node:assert/strict';
import { slots, type DerivedState } from './submission-state';
import {
  type SubmissionDoc,
  type SubmissionEventDoc,
  type SubmissionLine,
} from './submissions.model';
import { APPEAL_WINDOW_MS } from './submissions.deps';
import type { z } from '../../platform/validation';
import type {
  appealSchema,
  cappedSchema,
  historyItemSchema,
  lineSchema,
  submissionSchema,
} from './submissions.schemas';

// The shapes the response schemas declare (one declaration each).
export type LineView = z.infer<typeof lineSchema>;
export type CappedView = z.infer<typeof cappedSchema>;
export type AppealView = z.infer<typeof appealSchema>;

export type HistoryItem = z.infer<typeof historyItemSchema>;

export type SubmissionView = z.infer<typeof submissionSchema>;

export const sign = (kind: 'award' | 'deduction') => (kind === 'deduction' ? -1 : 1);

function cappedMessage(
  limitedBy: 'month' | 'year' | undefined,
  cap: number | undefined,
  points: number,
): string {
  if (!limitedBy) return `已按上限核减为${points}分`;
  return `已按${limitedBy === 'month' ? '本月' : '本年度'}上限（${cap}分）核减为${points}分`;
}

function lineView(l: SubmissionLine): LineView {
  const v: LineView = {
    householdId: l.householdId,
    points: l.points,
    requestedPoints: l.requestedPoints,
  };
  if (l.quantity !== undefined && l.quantity !== null) v.quantity = l.quantity;
  if (l.capLimitedBy) v.capped = { limitedBy: l.capLimitedBy, cap: l.cap ?? 0 };
  return v;
}

function historyItem(e: SubmissionEventDoc): HistoryItem {
  const h: HistoryItem = { type: e.type, at: e.at.toISOString() };
  if (e.round !== undefined && e.round !== null) h.round = e.round;
  if (e.by) h.by = e.by;
  if (e.byRole) h.byRole = e.byRole;
  if (e.decision) h.decision = e.decision;
  if (e.comment) h.comment = e.comment;
  if (e.reason) h.reason = e.reason;
  if (e.noticeEndsAt) h.noticeEndsAt = e.noticeEndsAt.toISOString();
  if (e.entries)
    h.entries = e.entries.map((x) => ({
      householdId: x.householdId,
      seq: x.seq,
      points: x.points,
      spendableDelta: x.spendableDelta,
      meritDelta: x.meritDelta,
    }));
  return h;
}

/** An appeal as shown, from its slots: the filing, the decision (if any) and the reversal (if any). */
export function appealOf(
  sub: SubmissionDoc,
  filed: SubmissionEventDoc,
  decided: SubmissionEventDoc | undefined,
  reversal: SubmissionEventDoc | undefined,
): AppealView {
  const v: AppealView = {
    id: filed._id,
    submissionId: sub._id.toHexString(),
    householdId: sub.householdIds[0]!,
    status: !decided ? 'pending' : decided.type === 'appeal_upheld' ? 'upheld' : 'dismissed',
    reason: filed.reason ?? '',
    filedAt: filed.at.toISOString(),
  };
  if (decided) {
    v.decidedAt = decided.at.toISOString();
    if (decided.by) v.decidedBy = decided.by;
    if (decided.comment) v.comment = decided.comment;
    if (decided.note) v.note = decided.note;
  }
  if (reversal) v.reversalEntries = reversal.entries ?? [];
  return v;
}

export function appealView(
  sub: SubmissionDoc,
  events: readonly SubmissionEventDoc[],
  state: DerivedState,
): AppealView | null {
  if (!state.appeal) return null;
  const slot = (name: string) => events.find((e) => e.slot === name);
  const v = appealOf(sub, slot(slots.appeal)!, slot(slots.appealDecision), slot(slots.reversal));
  assert.equal(v.status, state.appeal.status, 'the appeal view agrees with the derived state');
  return v;
}

/** The stored part of a view; `state` (derived) or the cache supplies the rest. */
export function toView(
  sub: SubmissionDoc,
  derived?: { state: DerivedState; events: SubmissionEventDoc[]; quorum: number },
): SubmissionView {
  const points = sub.lines.reduce((a, l) => a + l.points, 0);
  const requested = sub.lines.reduce((a, l) => a + l.requestedPoints, 0);
  const s = sign(sub.kind);
  let capped: CappedView | null = null;
  if (points !== requested) {
    const limited = sub.lines.find((l) => l.capLimitedBy);
    capped = {
      requestedPoints: s * requested,
      points: s * points,
      ...(sub.batch ? {} : { limitedBy: limited?.capLimitedBy, cap: limited?.cap }),
      message: sub.batch
        ? `${sub.lines.filter((l) => l.capLimitedBy).length}户已按上限核减`
        : cappedMessage(limited?.capLimitedBy, limited?.cap, points),
    };
  }
  const state = derived?.state;
  const postedAt = state ? state.postedAt : sub.postedAt;
  const noticeEndsAt = state ? state.noticeEndsAt : sub.noticeEndsAt;
  const v: SubmissionView = {
    id: sub._id.toHexString(),
    villageId: sub.villageId,
    batch: sub.batch,
    householdId: sub.batch ? null : sub.householdIds[0]!,
    lines: sub.lines.map(lineView),
    ruleCode: sub.ruleCode,
    ruleVersion: sub.ruleVersion,
    ruleTitle: sub.ruleTitle,
    kind: sub.kind,
    occurredOn: sub.occurredOn,
    evidence: { text: sub.evidence.text, attachments: [...(sub.evidence.attachments ?? [])] },
    points: s * points,
    requestedPoints: s * requested,
    capped,
    status: state?.status ?? sub.status,
    round: state?.round ?? sub.round,
    approvals: state?.approvals ?? sub.approvals,
    rejections: state?.rejections ?? sub.rejections,
    noticeEndsAt: noticeEndsAt ? noticeEndsAt.toISOString() : null,
    postedAt: postedAt ? postedAt.toISOString() : null,
    createdBy: sub.createdBy,
    createdAt: sub.createdAt.toISOString(),
  };
  if (sub.overrideVersion !== undefined && sub.overrideVersion !== null)
    v.overrideVersion = sub.overrideVersion;
  if (!sub.batch && sub.lines[0]?.quantity !== undefined && sub.lines[0]?.quantity !== null)
    v.quantity = sub.lines[0].quantity;
  if (sub.serviceOrderId) v.serviceOrderId = sub.serviceOrderId;
  if (sub.volunteerId) v.volunteerId = sub.volunteerId;
  if (sub.milestoneHours) v.milestoneHours = sub.milestoneHours;
  if (sub.kind === 'deduction' && postedAt)
    v.appealDeadline = new Date(postedAt.getTime() + APPEAL_WINDOW_MS).toISOString();
  if (derived) {
    if (state!.entries) v.entries = state!.entries;
    v.appeal = appealView(sub, derived.events, state!);
    v.history = derived.events.map(historyItem);
    v.quorum = derived.quorum;
  }
  return v;
}
