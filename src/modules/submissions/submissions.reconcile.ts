/**
 * Reconcile: derive the state from the events (submission-state.ts) and perform the step
 * they justify; the one writer of the cached status.
 * Part of the council workflow (submissions.service.ts re-exports its verbs).
 */

import assert from 'node:assert/strict';
import { clock, durationMs } from '../../platform/clock';
import { postEntry } from '../ledger/ledger.service';
import { queueNotification } from '../notifications/notifications.service';
import { claimedHouseholds, releaseCap } from '../rules/rules.service';
import { countCouncilVoters } from '../users/users.service';
import { DEFAULT_POLICY, findVillage } from '../villages/villages.service';
import {
  deriveState,
  noticeId,
  slots,
  type DerivedState,
  type PostedEntryRef,
} from './submission-state';
import { Submission, type SubmissionDoc, type SubmissionEventDoc } from './submissions.model';
import { APPEAL_WINDOW_MS, CouncilDeps } from './submissions.deps';
import { councilFaults } from '../../platform/faults';
import { sign } from './submissions.views';
import {
  findSubmission,
  loadEvents,
  toStateEvent,
  NewEvent,
  insertEvent,
  dropNoticeWakeup,
  closeNotice,
  ensureWakeup,
} from './submissions.store';

export interface Reconciled {
  sub: SubmissionDoc;
  state: DerivedState;
  events: SubmissionEventDoc[];
  quorum: number;
}

function ledgerSource(sub: SubmissionDoc, householdId: string): string {
  const id = sub._id.toHexString();
  return sub.batch ? `${id}:${householdId}` : id;
}

function fmtDate(d: Date): string {
  return d.toISOString().slice(0, 10);
}

async function postLines(sub: SubmissionDoc): Promise<PostedEntryRef[]> {
  const s = sign(sub.kind);
  const refs: PostedEntryRef[] = [];
  for (const line of sub.lines) {
    if (line.points === 0) continue; // a batch line reduced to nothing by a cap posts nothing
    const { entry } = await postEntry({
      householdId: line.householdId,
      type: sub.kind,
      points: s * line.points,
      spendableDelta: s * line.points,
      meritDelta: s * line.points,
      shortfall: 'clamp',
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

async function notifyAppealOutcome(
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

/** The submission's cached status: what list filters read; the events are the truth. */
type CachedStatus = Pick<
  SubmissionDoc,
  'status' | 'round' | 'approvals' | 'rejections' | 'noticeEndsAt' | 'postedAt' | 'appealStatus'
>;

const cachedOf = (state: DerivedState): CachedStatus => ({
  status: state.status,
  round: state.round,
  approvals: state.approvals,
  rejections: state.rejections,
  noticeEndsAt: state.noticeEndsAt,
  postedAt: state.postedAt,
  appealStatus: state.appeal?.status,
});

const CACHED_KEYS = [
  'status',
  'round',
  'approvals',
  'rejections',
  'noticeEndsAt',
  'postedAt',
  'appealStatus',
] as const;

const sameValue = (a: unknown, b: unknown): boolean =>
  a instanceof Date || b instanceof Date
    ? (a instanceof Date ? a.getTime() : null) === (b instanceof Date ? b.getTime() : null)
    : (a ?? null) === (b ?? null);

/**
 * The one writer of a submission's cached status (nothing else updates a Submission). Writes
 * the members `next` names (undefined ones are removed) and leaves the others as they are;
 * writes nothing when they already hold those values.
 */
export async function writeCachedStatus(
  sub: SubmissionDoc,
  next: Partial<CachedStatus>,
): Promise<void> {
  const set: Record<string, unknown> = {};
  const unset: Record<string, 1> = {};
  let changed = false;
  for (const k of CACHED_KEYS) {
    if (!(k in next)) continue;
    const v = next[k];
    if (!sameValue(sub[k], v)) changed = true;
    if (v === undefined) unset[k] = 1;
    else set[k] = v;
  }
  if (!changed) return;
  // A blind write: a slower reconciler may briefly write an older state, which the next read
  // or reconcile repairs. Nothing decides from the cache except list filters.
  await Submission.updateOne(
    { _id: sub._id },
    Object.keys(unset).length ? { $set: set, $unset: unset } : { $set: set },
  );
}

/**
 * Brings a submission's state up to date: derives it from the events, performs the step they
 * justify (record the decision a quorum reached, close an ended notice, post, release caps,
 * reverse an upheld appeal), repeats until nothing is due, and repairs the cache. Idempotent
 * and safe to run concurrently: every step is an insert into a slot or an idempotent post.
 * Returns undefined for a submission that does not exist (its cap claims, if a filing crashed
 * after claiming, are given back).
 */
export async function reconcileSubmission(
  submissionId: string,
  deps: CouncilDeps = {},
): Promise<Reconciled | undefined> {
  const sub = await findSubmission(submissionId);
  const inserted: SubmissionEventDoc[] = [];
  /**
   * Fills a slot during reconcile. A won insert is appended to the events in hand; a lost one
   * means another writer moved the submission on, so the events are read again. (Reading the
   * events scans an index on MongoDB but may scan the collection on FerretDB, so reads are kept
   * to those that correctness needs.)
   */
  const track = (doc: SubmissionEventDoc | undefined): boolean => {
    if (doc) inserted.push(doc);
    else stale = true;
    return Boolean(doc);
  };
  const fill = async (e: NewEvent): Promise<boolean> => track(await insertEvent(submissionId, e));
  let stale = false;
  let postedHere = false;
  if (!sub) {
    for (const householdId of await claimedHouseholds(submissionId))
      await releaseCap(submissionId, householdId);
    return undefined;
  }
  const village = await findVillage(sub.villageId);
  const policy = village?.policy ?? DEFAULT_POLICY;
  let events = await loadEvents(submissionId);
  if (!events.some((e) => e.slot === slots.filed)) {
    // A filing that crashed after storing the submission: record its filing as it happened.
    await insertEvent(submissionId, {
      slot: slots.filed,
      type: 'filed',
      by: sub.createdBy,
      at: sub.createdAt,
    });
    events = await loadEvents(submissionId);
  }
  let eligible: number | undefined;
  const derive = async (): Promise<DerivedState> => {
    const input = {
      quorum: policy.quorum,
      eligibleVoters: 0,
      capsApply: sub.capsApply,
      now: clock.now(),
    };
    let state = deriveState(events.map(toStateEvent), input);
    if (state.status === 'in_review' && !state.next && state.rejections > 0) {
      eligible ??= await countCouncilVoters(sub.villageId, sub.householdIds);
      state = deriveState(events.map(toStateEvent), { ...input, eligibleVoters: eligible });
    }
    return state;
  };

  let state = await derive();
  for (let step = 0; state.next; step++) {
    assert.ok(step < 20, 'reconcile converges');
    const now = clock.now();
    const round = state.round;
    switch (state.next) {
      case 'decide_notice': {
        const noticeEndsAt = new Date(now.getTime() + durationMs(policy.noticePeriod));
        // The wake-up first: if we crash after the decision, the sweeper still ends the notice.
        await ensureWakeup({
          _id: noticeId(submissionId, round),
          submissionId,
          kind: 'notice',
          round,
          at: noticeEndsAt,
        });
        const won = await fill({
          slot: slots.decision(round),
          type: 'notice_started',
          round,
          noticeEndsAt,
          at: now,
        });
        councilFaults.afterDecision?.(submissionId);
        if (won && deps.enqueuePost) {
          try {
            await deps.enqueuePost(submissionId, round, noticeEndsAt);
          } catch (err) {
            // The notice wake-up is durable; the sweeper posts it if the job never runs.
            deps.log?.warn(
              { err: (err as Error).message, submissionId },
              'could not enqueue the notice job; the sweeper will post it',
            );
          }
        }
        break;
      }
      case 'decide_reject':
        await fill({ slot: slots.decision(round), type: 'rejected', round, at: now });
        break;
      case 'release_caps':
        for (const line of sub.lines) await releaseCap(submissionId, line.householdId);
        await fill({ slot: slots.capsReleased, type: 'caps_released', at: now });
        break;
      case 'close_notice':
        track(await closeNotice(submissionId, round, now));
        break;
      case 'post':
        postedHere = track(await recordPosting(sub, now));
        break;
      case 'reverse': {
        const appealId = state.appeal!.id;
        const reversals: PostedEntryRef[] = [];
        for (const e of state.entries ?? []) {
          // The reversal negates what the deduction actually did: merit back in full, and
          // spendable back by what the deduction really took (it may have been clamped).
          const { entry } = await postEntry({
            householdId: e.householdId,
            type: 'reversal',
            points: -e.points,
            spendableDelta: -e.spendableDelta,
            meritDelta: -e.meritDelta,
            shortfall: 'clamp',
            source: {
              type: 'appeal',
              id: (state.entries ?? []).length > 1 ? `${appealId}:${e.householdId}` : appealId,
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
        await fill({ slot: slots.reversal, type: 'reversed', entries: reversals, at: now });
        break;
      }
    }
    if (stale) {
      events = await loadEvents(submissionId);
      stale = false;
    } else {
      events = [...events, ...inserted];
    }
    inserted.length = 0;
    state = await derive();
  }
  // This call posted: the notice's wake-up has nothing left to do.
  if (postedHere && state.status === 'posted' && !state.next)
    await dropNoticeWakeup(submissionId, state.round);
  if (state.appeal && state.appeal.status !== 'pending')
    await notifyAppealOutcome(sub, state, events);
  await writeCachedStatus(sub, cachedOf(state));
  return { sub, state, events, quorum: policy.quorum };
}
