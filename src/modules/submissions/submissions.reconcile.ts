/**
 * Reconcile: derive the state from the events (submission-state.ts) and perform the step
 * they justify (one small function per step; posting and reversing live in
 * submissions.posting.ts); the one writer of the cached status.
 * Part of the council workflow (submissions.service.ts re-exports its verbs).
 */

import assert from 'node:assert/strict';
import { clock, durationMs } from '../../platform/clock';
import { claimedHouseholds, releaseCap } from '../rules/rules.service';
import { countCouncilVoters } from '../users/users.service';
import { DEFAULT_POLICY, findVillage } from '../villages/villages.service';
import { deriveState, noticeId, slots, type DerivedState } from './submission-state';
import { Submission, type SubmissionDoc, type SubmissionEventDoc } from './submissions.model';
import { CouncilDeps } from './submissions.deps';
import { councilFaults } from '../../platform/faults';
import { notifyAppealOutcome, recordPosting, reverseEntries } from './submissions.posting';
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

/** What a notice-opening decision records besides its slot: the round and when it ends. */
type NoticeDecision = Pick<NewEvent, 'at' | 'by' | 'byRole' | 'comment'> & {
  round: number;
  noticeEndsAt: Date;
};

/**
 * Opens the public notice of a round: the wake-up first (if we crash after the decision, the
 * sweeper still ends the notice), then the round's decision, then the delayed job that ends it
 * (best effort: the wake-up is durable, and the sweeper posts it if the job never runs).
 * Returns the decision, or undefined when another writer decided the round first (S2).
 */
export async function openNotice(
  submissionId: string,
  decision: NoticeDecision,
  deps: CouncilDeps,
  afterDecision?: () => void,
): Promise<SubmissionEventDoc | undefined> {
  const { round, noticeEndsAt } = decision;
  await ensureWakeup({
    _id: noticeId(submissionId, round),
    submissionId,
    kind: 'notice',
    round,
    at: noticeEndsAt,
  });
  const won = await insertEvent(submissionId, {
    slot: slots.decision(round),
    type: 'notice_started',
    ...decision,
  });
  afterDecision?.();
  if (won && deps.enqueuePost) {
    try {
      await deps.enqueuePost(submissionId, round, noticeEndsAt);
    } catch (err) {
      deps.log?.warn(
        { err: (err as Error).message, submissionId },
        'could not enqueue the notice job; the sweeper will post it',
      );
    }
  }
  return won;
}

/**
 * The events one reconcile holds. A won insert is appended to them; a lost one means another
 * writer moved the submission on, so they are read again. (Reading the events scans an index on
 * MongoDB but may scan the collection on FerretDB, so reads are kept to those that correctness
 * needs.)
 */
class EventsInHand {
  private inserted: SubmissionEventDoc[] = [];
  private stale = false;

  constructor(
    private readonly submissionId: string,
    public events: SubmissionEventDoc[],
  ) {}

  /** Takes the result of filling a slot; true when this call filled it. */
  track(doc: SubmissionEventDoc | undefined): boolean {
    if (doc) this.inserted.push(doc);
    else this.stale = true;
    return Boolean(doc);
  }

  async fill(e: NewEvent): Promise<boolean> {
    return this.track(await insertEvent(this.submissionId, e));
  }

  /** Brings the events up to date after a step. */
  async refresh(): Promise<void> {
    if (this.stale) {
      this.events = await loadEvents(this.submissionId);
      this.stale = false;
    } else {
      this.events = [...this.events, ...this.inserted];
    }
    this.inserted.length = 0;
  }
}

/** The events of a submission, with its `filed` event recorded if the filing crashed before it. */
async function loadFiledEvents(sub: SubmissionDoc): Promise<SubmissionEventDoc[]> {
  const submissionId = sub._id.toHexString();
  const events = await loadEvents(submissionId);
  if (events.some((e) => e.slot === slots.filed)) return events;
  // A filing that crashed after storing the submission: record its filing as it happened.
  await insertEvent(submissionId, {
    slot: slots.filed,
    type: 'filed',
    by: sub.createdBy,
    at: sub.createdAt,
  });
  return loadEvents(submissionId);
}

/**
 * Derives the state from the events in hand. Counting the council's eligible voters costs a
 * read, so it is done (once per reconcile) only when a rejection may have made a quorum
 * impossible.
 */
function stateDeriver(sub: SubmissionDoc, quorum: number, hand: EventsInHand) {
  let eligible: number | undefined;
  return async (): Promise<DerivedState> => {
    const input = { quorum, eligibleVoters: 0, capsApply: sub.capsApply, now: clock.now() };
    let state = deriveState(hand.events.map(toStateEvent), input);
    if (state.status === 'in_review' && !state.next && state.rejections > 0) {
      eligible ??= await countCouncilVoters(sub.villageId, sub.householdIds);
      state = deriveState(hand.events.map(toStateEvent), { ...input, eligibleVoters: eligible });
    }
    return state;
  };
}

/** Performs the step the state says is due; true when this call recorded the posting. */
async function performStep(
  sub: SubmissionDoc,
  state: DerivedState,
  noticePeriod: string,
  hand: EventsInHand,
  deps: CouncilDeps,
): Promise<boolean> {
  const submissionId = sub._id.toHexString();
  const now = clock.now();
  const round = state.round;
  switch (state.next) {
    case 'decide_notice': {
      const noticeEndsAt = new Date(now.getTime() + durationMs(noticePeriod));
      const decision = { round, noticeEndsAt, at: now };
      const afterDecision = () => councilFaults.afterDecision?.(submissionId);
      hand.track(await openNotice(submissionId, decision, deps, afterDecision));
      return false;
    }
    case 'decide_reject':
      await hand.fill({ slot: slots.decision(round), type: 'rejected', round, at: now });
      return false;
    case 'release_caps':
      for (const line of sub.lines) await releaseCap(submissionId, line.householdId);
      await hand.fill({ slot: slots.capsReleased, type: 'caps_released', at: now });
      return false;
    case 'close_notice':
      hand.track(await closeNotice(submissionId, round, now));
      return false;
    case 'post':
      return hand.track(await recordPosting(sub, now));
    case 'reverse': {
      const reversals = await reverseEntries(sub, state);
      await hand.fill({ slot: slots.reversal, type: 'reversed', entries: reversals, at: now });
      return false;
    }
    case undefined:
      return false;
  }
}

/** A filing that crashed after claiming caps and before storing its submission: give them back. */
async function releaseOrphanClaims(submissionId: string): Promise<void> {
  for (const householdId of await claimedHouseholds(submissionId))
    await releaseCap(submissionId, householdId);
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
  if (!sub) {
    await releaseOrphanClaims(submissionId);
    return undefined;
  }
  const village = await findVillage(sub.villageId);
  const policy = village?.policy ?? DEFAULT_POLICY;
  const hand = new EventsInHand(submissionId, await loadFiledEvents(sub));
  const derive = stateDeriver(sub, policy.quorum, hand);
  let postedHere = false;
  let state = await derive();
  for (let step = 0; state.next; step++) {
    assert.ok(step < 20, 'reconcile converges');
    if (await performStep(sub, state, policy.noticePeriod, hand, deps)) postedHere = true;
    await hand.refresh();
    state = await derive();
  }
  // This call posted: the notice's wake-up has nothing left to do.
  if (postedHere && state.status === 'posted' && !state.next)
    await dropNoticeWakeup(submissionId, state.round);
  if (state.appeal && state.appeal.status !== 'pending')
    await notifyAppealOutcome(sub, state, hand.events);
  await writeCachedStatus(sub, cachedOf(state));
  return { sub, state, events: hand.events, quorum: policy.quorum };
}
