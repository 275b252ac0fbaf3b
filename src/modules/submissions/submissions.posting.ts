/**
 * Posting: what a submission does to the ledger and tells the household. Its lines post when
 * the notice ended (S1), and an upheld appeal reverses what the deduction took.
 * Part of the council workflow (submissions.service.ts re-exports its verbs).
 */

import { award, deduct, reverse } from '../ledger/ledger.service';
import { queueNotification } from '../notifications/notifications.service';
import { slots, type DerivedState, type PostedEntryRef } from './submission-state';
import { type SubmissionDoc, type SubmissionEventDoc } from './submissions.model';
import { APPEAL_WINDOW_MS } from './submissions.deps';
import { councilFaults } from '../../platform/faults';
import { insertEvent } from './submissions.store';

function ledgerSource(sub: SubmissionDoc, householdId: string): string {
  const id = sub._id.toHexString();
  return sub.batch ? `${id}:${householdId}` : id;
}

function fmtDate(d: Date): string {
  return d.toISOString().slice(0, 10);
}

async function postLines(sub: SubmissionDoc): Promise<PostedEntryRef[]> {
  const post = sub.kind === 'deduction' ? deduct : award;
  const refs: PostedEntryRef[] = [];
  for (const line of sub.lines) {
    if (line.points === 0) continue; // a batch line reduced to nothing by a cap posts nothing
    const { entry } = await post({
      householdId: line.householdId,
      points: line.points,
      source: { type: 'submission', id: ledgerSource(sub, line.householdId) },
      ruleCode: sub.ruleCode,
      reason: `${sub.ruleTitle}（${sub.occurredOn}）`,
    });
    refs.push({
      householdId: line.householdId,
      seq: entry.seq,
      points: entry.points,
      spendableDelta: entry.spendableDelta,
      meritDelta: entry.meritDelta,
    });
  }
  return refs;
}

/**
 * S1: posts every line (idempotent per ledger source), queues the posting notices (idempotent
 * per key), then records the posting. Returns the `posted` event, or undefined when another
 * writer recorded it first. Only called once the round's notice closed with `notice_ended`.
 */
export async function recordPosting(
  sub: SubmissionDoc,
  now: Date,
): Promise<SubmissionEventDoc | undefined> {
  const id = sub._id.toHexString();
  const entries = await postLines(sub);
  councilFaults.afterPostEntries?.(id);
  await notifyPosted(sub, now);
  return insertEvent(id, { slot: slots.posted, type: 'posted', entries, at: now });
}

async function notifyPosted(sub: SubmissionDoc, postedAt: Date): Promise<void> {
  const id = sub._id.toHexString();
  for (const line of sub.lines) {
    if (line.points === 0) continue;
    const deduction = sub.kind === 'deduction';
    const deadline = fmtDate(new Date(postedAt.getTime() + APPEAL_WINDOW_MS));
    await queueNotification({
      key: `posted-${id}-${line.householdId}`,
      householdId: line.householdId,
      villageId: sub.villageId,
      submissionId: id,
      kind: 'posted',
      title: deduction ? `扣分已生效：${sub.ruleTitle}` : `积分已入账：${sub.ruleTitle}`,
      body: deduction
        ? `您户因“${sub.ruleTitle}”（${sub.occurredOn}）被扣减${line.points}分，经村道德评议会评议并公示期满，已记入积分账户。如有异议，可在${deadline}前提出申诉。`
        : `您户“${sub.ruleTitle}”（${sub.occurredOn}）获得${line.points}分，经村道德评议会评议并公示期满，已记入积分账户。`,
    });
  }
}

export async function notifyAppealOutcome(
  sub: SubmissionDoc,
  state: DerivedState,
  events: readonly SubmissionEventDoc[],
): Promise<void> {
  const appeal = state.appeal;
  if (!appeal || appeal.status === 'pending') return;
  const line = sub.lines[0]!;
  const note = events.find((e) => e.slot === slots.appealDecision)?.note;
  const explained = note ? `复核说明：${note}` : '';
  await queueNotification({
    key: `appeal-${sub._id.toHexString()}`,
    householdId: line.householdId,
    villageId: sub.villageId,
    submissionId: sub._id.toHexString(),
    kind: 'appeal_outcome',
    title:
      appeal.status === 'upheld' ? `申诉成立：${sub.ruleTitle}` : `申诉未获支持：${sub.ruleTitle}`,
    body:
      (appeal.status === 'upheld'
        ? `您户对“${sub.ruleTitle}”扣分的申诉经乡镇复核成立，已撤销扣分，${line.points}分已退回积分账户。`
        : `您户对“${sub.ruleTitle}”扣分的申诉经乡镇复核未获支持，维持原扣分决定。`) + explained,
  });
}

/**
 * An upheld appeal: reverses each posted entry of the deduction. The reversal negates what the
 * deduction actually did: merit back in full, and spendable back by what the deduction really
 * took (it may have been clamped).
 */
export async function reverseEntries(
  sub: SubmissionDoc,
  state: DerivedState,
): Promise<PostedEntryRef[]> {
  const appealId = state.appeal!.id;
  const entries = state.entries ?? [];
  const reversals: PostedEntryRef[] = [];
  for (const e of entries) {
    const { entry } = await reverse({
      householdId: e.householdId,
      reverses: {
        type: 'deduction',
        points: e.points,
        spendableDelta: e.spendableDelta,
        meritDelta: e.meritDelta,
      },
      source: {
        type: 'appeal',
        id: entries.length > 1 ? `${appealId}:${e.householdId}` : appealId,
      },
      ruleCode: sub.ruleCode,
      reason: `申诉成立，撤销扣分：${sub.ruleTitle}`,
    });
    reversals.push({
      householdId: e.householdId,
      seq: entry.seq,
      points: entry.points,
      spendableDelta: entry.spendableDelta,
      meritDelta: entry.meritDelta,
    });
  }
  return reversals;
}
