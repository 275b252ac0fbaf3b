/**
 * The council workflow: a clerk files a submission (an award or a deduction under a rule), the
 * village council votes, a quorum of approvals opens the public notice (公示), an objection sends
 * it back to a new review round, and when the notice ends unopposed the points post to the
 * ledger. A posted deduction may be appealed within 30 days; an upheld appeal is reversed by a
 * new entry.
 *
 * Invariants:
 * - S1 a submission posts at most one ledger entry per household line (the ledger's unique
 *   source: the submission id, or `<id>:<householdId>` for a batch line) and at least one once
 *   its notice ended without objection (the delayed job, else the sweeper over wake-ups).
 * - S2 every vote and state change is an append-only event; each decision point has one slot
 *   (unique (submissionId, slot)), so one vote per member per round, one decision per round,
 *   one close per notice (an objection and the posting cannot both win), one appeal and one
 *   appeal decision.
 * - S3 a council member never votes on their own household's submission.
 * - S4 points are fixed at filing (rule version in force on occurredOn, caps applied); a later
 *   rule version never changes them.
 * - S5 every multi-step change first writes a wake-up; a step interrupted by a crash is
 *   finished by the sweeper (reconcile is idempotent), and only then is the wake-up deleted.
 * - S6 a deed's `occurredOn` lies within the village policy's window (Asia/Shanghai days).
 * - S7 a household reads its own submissions; of its neighbours' only those in public notice or
 *   posted, without attachments, appeal or who voted and objected (counts only).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Types } from 'mongoose';
import { addDays, clock, durationMs, shanghaiDate } from '../../platform/clock';
import { DomainError, forbidden, isDuplicateKeyError, notFound, type FieldError } from '../../platform/errors';
import type { Logger } from '../../platform/logger';
import { reachesVillage, type Principal } from '../../platform/principal';
import { findHousehold } from '../households/households.service';
import { postEntry } from '../ledger/ledger.service';
import { queueNotification } from '../notifications/notifications.service';
import { claimCap, claimedHouseholds, releaseCap, resolveRule, scorePoints } from '../rules/rules.service';
import { countCouncilVoters } from '../users/users.service';
import { DEFAULT_OCCURRED_ON_WINDOW_DAYS, DEFAULT_POLICY, findVillage } from '../villages/villages.service';
import { deriveState, noticeId, slots, type DerivedState, type EventType, type PostedEntryRef, type StateEvent } from './submission-state';
import { Submission, SubmissionEvent, SubmissionFilingKey, Wakeup, type FilingKeyDoc, type SubmissionDoc, type SubmissionEventDoc, type SubmissionLine, type WakeupDoc } from './submissions.model';

/** A deduction may be appealed this long after it posted. */
export const APPEAL_WINDOW_MS = 30 * 24 * 3600_000;
/** A request's guard wake-up becomes due this long after the request began (it has crashed by then). */
export const GUARD_MS = 60_000;
/** Households in one batch submission (one activity: a village clean-up, a volunteer day). */
export const BATCH_LINES_MAX = 500;
/** Events read per submission; a submission has a few dozen (votes, rounds). */
const EVENTS_MAX = 10_000;
/** Wake-ups read per sweeper batch. */
export const SWEEP_BATCH = 200;
const SWEEP_CONCURRENCY = 8;

/** Enqueues the delayed job that ends a notice (BullMQ in the API; absent in repairs). */
export type EnqueuePost = (submissionId: string, round: number, noticeEndsAt: Date) => Promise<void>;

export interface CouncilDeps {
  enqueuePost?: EnqueuePost;
  log?: Logger;
}

/** Test-only fault injection: throw from a hook to simulate a crash between two steps. */
export const councilFaults: {
  afterVote?: (submissionId: string) => void;
  afterDecision?: (submissionId: string) => void;
  afterPostEntries?: (submissionId: string) => void;
  afterCapClaims?: (submissionId: string) => void;
} = {};

// ---------------------------------------------------------------------------------------------
// Views

export interface LineView {
  householdId: string;
  quantity?: number;
  points: number;
  requestedPoints: number;
  capped?: { limitedBy: 'month' | 'year'; cap: number };
}

export interface CappedView {
  requestedPoints: number;
  points: number;
  limitedBy?: 'month' | 'year';
  cap?: number;
  /** What a clerk reads, e.g. “已按本月上限（40分）核减为10分”. */
  message: string;
}

export interface AppealView {
  id: string;
  submissionId: string;
  householdId: string;
  status: 'pending' | 'upheld' | 'dismissed';
  reason: string;
  filedAt: string;
  decidedAt?: string;
  decidedBy?: string;
  comment?: string;
  /** The decision's explanation to the household. */
  note?: string;
  reversalEntries?: PostedEntryRef[];
}

export interface HistoryItem {
  type: EventType;
  at: string;
  round?: number;
  by?: string;
  byRole?: string;
  decision?: 'approve' | 'reject';
  comment?: string;
  reason?: string;
  noticeEndsAt?: string;
  entries?: PostedEntryRef[];
}

export interface SubmissionView {
  id: string;
  villageId: string;
  batch: boolean;
  householdId: string | null;
  lines: LineView[];
  ruleCode: string;
  ruleVersion: number;
  overrideVersion?: number;
  ruleTitle: string;
  kind: 'award' | 'deduction';
  quantity?: number;
  occurredOn: string;
  evidence: { text: string; attachments: string[] };
  /** Signed: what posts to the ledger (negative for a deduction), after caps. */
  points: number;
  requestedPoints: number;
  capped: CappedView | null;
  status: string;
  round: number;
  approvals: number;
  rejections: number;
  noticeEndsAt: string | null;
  postedAt: string | null;
  appealDeadline?: string;
  entries?: PostedEntryRef[];
  appeal?: AppealView | null;
  createdBy: string;
  createdAt: string;
  /** Approvals the village needs (on single reads). */
  quorum?: number;
  history?: HistoryItem[];
  /** Filed by the service-order loop from this rated order. */
  serviceOrderId?: string;
  /** The volunteer whose hours or milestone this is. */
  volunteerId?: string;
  milestoneHours?: number;
}

const sign = (kind: 'award' | 'deduction') => (kind === 'deduction' ? -1 : 1);

function cappedMessage(limitedBy: 'month' | 'year' | undefined, cap: number | undefined, points: number): string {
  if (!limitedBy) return `已按上限核减为${points}分`;
  return `已按${limitedBy === 'month' ? '本月' : '本年度'}上限（${cap}分）核减为${points}分`;
}

function lineView(l: SubmissionLine): LineView {
  const v: LineView = { householdId: l.householdId, points: l.points, requestedPoints: l.requestedPoints };
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
  if (e.entries) h.entries = e.entries.map((x) => ({ householdId: x.householdId, seq: x.seq, points: x.points, spendableDelta: x.spendableDelta, meritDelta: x.meritDelta }));
  return h;
}

/** An appeal as shown, from its slots: the filing, the decision (if any) and the reversal (if any). */
function appealOf(sub: SubmissionDoc, filed: SubmissionEventDoc, decided: SubmissionEventDoc | undefined, reversal: SubmissionEventDoc | undefined): AppealView {
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

function appealView(sub: SubmissionDoc, events: readonly SubmissionEventDoc[], state: DerivedState): AppealView | null {
  if (!state.appeal) return null;
  const slot = (name: string) => events.find((e) => e.slot === name);
  const v = appealOf(sub, slot(slots.appeal)!, slot(slots.appealDecision), slot(slots.reversal));
  assert.equal(v.status, state.appeal.status, 'the appeal view agrees with the derived state');
  return v;
}

/** The stored part of a view; `state` (derived) or the cache supplies the rest. */
function toView(sub: SubmissionDoc, derived?: { state: DerivedState; events: SubmissionEventDoc[]; quorum: number }): SubmissionView {
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
      message: sub.batch ? `${sub.lines.filter((l) => l.capLimitedBy).length}户已按上限核减` : cappedMessage(limited?.capLimitedBy, limited?.cap, points),
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
  if (sub.overrideVersion !== undefined && sub.overrideVersion !== null) v.overrideVersion = sub.overrideVersion;
  if (!sub.batch && sub.lines[0]?.quantity !== undefined && sub.lines[0]?.quantity !== null) v.quantity = sub.lines[0].quantity;
  if (sub.serviceOrderId) v.serviceOrderId = sub.serviceOrderId;
  if (sub.volunteerId) v.volunteerId = sub.volunteerId;
  if (sub.milestoneHours) v.milestoneHours = sub.milestoneHours;
  if (sub.kind === 'deduction' && postedAt) v.appealDeadline = new Date(postedAt.getTime() + APPEAL_WINDOW_MS).toISOString();
  if (derived) {
    if (state!.entries) v.entries = state!.entries;
    v.appeal = appealView(sub, derived.events, state!);
    v.history = derived.events.map(historyItem);
    v.quorum = derived.quorum;
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// Storage helpers

async function findSubmission(id: string): Promise<SubmissionDoc | undefined> {
  if (!Types.ObjectId.isValid(id)) return undefined;
  return (await Submission.findById(id).lean<SubmissionDoc>()) ?? undefined;
}

/** Where an event falls among events of the same instant. */
const EVENT_ORDER: Record<EventType, number> = {
  filed: 0,
  vote: 1,
  notice_started: 2,
  rejected: 2,
  objected: 3,
  notice_ended: 3,
  posted: 4,
  caps_released: 4,
  appealed: 5,
  appeal_upheld: 6,
  appeal_dismissed: 6,
  reversed: 7,
};

async function loadEvents(submissionId: string): Promise<SubmissionEventDoc[]> {
  const events = await SubmissionEvent.find({ submissionId }).limit(EVENTS_MAX).lean<SubmissionEventDoc[]>();
  assert.ok(events.length < EVENTS_MAX, 'a submission has fewer events than EVENTS_MAX');
  // Steps taken in one reconcile may share a millisecond: ties go in the order they happen.
  const byRound = (a: SubmissionEventDoc, b: SubmissionEventDoc) => (a.round !== undefined && b.round !== undefined ? a.round - b.round : 0);
  return events.sort((a, b) => a.at.getTime() - b.at.getTime() || byRound(a, b) || EVENT_ORDER[a.type] - EVENT_ORDER[b.type]);
}

function toStateEvent(e: SubmissionEventDoc): StateEvent {
  const s: StateEvent = { id: e._id, slot: e.slot, type: e.type, at: e.at };
  if (e.round !== undefined && e.round !== null) s.round = e.round;
  if (e.by) s.by = e.by;
  if (e.decision) s.decision = e.decision;
  if (e.noticeEndsAt) s.noticeEndsAt = e.noticeEndsAt;
  if (e.entries) s.entries = e.entries;
  return s;
}

/** An event's key: its submission and its slot (S2: the slot's lock is the primary key). */
export const eventId = (submissionId: string, slot: string): string => `${submissionId}:${slot}`;

async function readSlot(submissionId: string, slot: string): Promise<SubmissionEventDoc | undefined> {
  return (await SubmissionEvent.findById(eventId(submissionId, slot)).lean<SubmissionEventDoc>()) ?? undefined;
}

type NewEvent = Omit<SubmissionEventDoc, '_id' | 'submissionId' | 'at'> & { at?: Date };

/** Fills a slot and returns the stored event; undefined when another writer filled it first (S2). */
async function insertEvent(submissionId: string, e: NewEvent): Promise<SubmissionEventDoc | undefined> {
  const doc = { ...e, _id: eventId(submissionId, e.slot), submissionId, at: e.at ?? clock.now() } as SubmissionEventDoc;
  try {
    await SubmissionEvent.create([doc]);
    return doc;
  } catch (err) {
    if (isDuplicateKeyError(err)) return undefined;
    throw err;
  }
}

/** S5: a wake-up the sweeper acts on if this request dies before `closeGuard`. */
async function openGuard(submissionId: string): Promise<string> {
  const id = `guard-${randomBytes(12).toString('hex')}`;
  await Wakeup.create([{ _id: id, submissionId, kind: 'guard', at: new Date(clock.now().getTime() + GUARD_MS), failures: 0 }]);
  return id;
}

async function closeGuard(id: string): Promise<void> {
  await Wakeup.deleteOne({ _id: id });
}

/** Runs `fn` under a guard; the guard stays behind only when `fn` fails unexpectedly (a crash). */
async function guarded<T>(submissionId: string, fn: () => Promise<T>): Promise<T> {
  const guard = await openGuard(submissionId);
  let result: T;
  try {
    result = await fn();
  } catch (err) {
    if (err instanceof DomainError) await closeGuard(guard);
    throw err;
  }
  await closeGuard(guard);
  return result;
}

/** Drops a notice's durable wake-up: its round is over (posted, objected or gone). */
async function dropNoticeWakeup(submissionId: string, round: number): Promise<void> {
  await Wakeup.deleteOne({ _id: noticeId(submissionId, round) });
}

/**
 * Closes the notice of `round` as ended, by filling the round's close slot: the same slot an
 * objection fills, so whichever insert is first decides (S2). The only place a notice is
 * closed without an objection; undefined when the slot was already filled.
 */
function closeNotice(submissionId: string, round: number, at: Date): Promise<SubmissionEventDoc | undefined> {
  return insertEvent(submissionId, { slot: slots.close(round), type: 'notice_ended', round, at });
}

async function ensureWakeup(w: Omit<WakeupDoc, 'failures'>): Promise<void> {
  try {
    await Wakeup.create([{ ...w, failures: 0 }]);
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Reconcile: derive the state from the events and perform the step they already justify.

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
    refs.push({ householdId: line.householdId, seq: entry.seq, points: entry.points, spendableDelta: entry.spendableDelta, meritDelta: entry.meritDelta });
  }
  return refs;
}

/**
 * S1: posts every line (idempotent per ledger source), queues the posting notices (idempotent
 * per key), then records the posting. Returns the `posted` event, or undefined when another
 * writer recorded it first. Only called once the round's notice closed with `notice_ended`.
 */
async function recordPosting(sub: SubmissionDoc, now: Date): Promise<SubmissionEventDoc | undefined> {
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

async function notifyAppealOutcome(sub: SubmissionDoc, state: DerivedState, events: readonly SubmissionEventDoc[]): Promise<void> {
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
    title: appeal.status === 'upheld' ? `申诉成立：${sub.ruleTitle}` : `申诉未获支持：${sub.ruleTitle}`,
    body:
      (appeal.status === 'upheld'
        ? `您户对“${sub.ruleTitle}”扣分的申诉经乡镇复核成立，已撤销扣分，${line.points}分已退回积分账户。`
        : `您户对“${sub.ruleTitle}”扣分的申诉经乡镇复核未获支持，维持原扣分决定。`) + explained,
  });
}

/** The submission's cached status: what list filters read; the events are the truth. */
type CachedStatus = Pick<SubmissionDoc, 'status' | 'round' | 'approvals' | 'rejections' | 'noticeEndsAt' | 'postedAt' | 'appealStatus'>;

const cachedOf = (state: DerivedState): CachedStatus => ({
  status: state.status,
  round: state.round,
  approvals: state.approvals,
  rejections: state.rejections,
  noticeEndsAt: state.noticeEndsAt,
  postedAt: state.postedAt,
  appealStatus: state.appeal?.status,
});

const CACHED_KEYS = ['status', 'round', 'approvals', 'rejections', 'noticeEndsAt', 'postedAt', 'appealStatus'] as const;

const sameValue = (a: unknown, b: unknown): boolean =>
  a instanceof Date || b instanceof Date ? (a instanceof Date ? a.getTime() : null) === (b instanceof Date ? b.getTime() : null) : (a ?? null) === (b ?? null);

/**
 * The one writer of a submission's cached status (nothing else updates a Submission). Writes
 * the members `next` names (undefined ones are removed) and leaves the others as they are;
 * writes nothing when they already hold those values.
 */
async function writeCachedStatus(sub: SubmissionDoc, next: Partial<CachedStatus>): Promise<void> {
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
  await Submission.updateOne({ _id: sub._id }, Object.keys(unset).length ? { $set: set, $unset: unset } : { $set: set });
}

/**
 * Brings a submission's state up to date: derives it from the events, performs the step they
 * justify (record the decision a quorum reached, close an ended notice, post, release caps,
 * reverse an upheld appeal), repeats until nothing is due, and repairs the cache. Idempotent
 * and safe to run concurrently: every step is an insert into a slot or an idempotent post.
 * Returns undefined for a submission that does not exist (its cap claims, if a filing crashed
 * after claiming, are given back).
 */
export async function reconcileSubmission(submissionId: string, deps: CouncilDeps = {}): Promise<Reconciled | undefined> {
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
    for (const householdId of await claimedHouseholds(submissionId)) await releaseCap(submissionId, householdId);
    return undefined;
  }
  const village = await findVillage(sub.villageId);
  const policy = village?.policy ?? DEFAULT_POLICY;
  let events = await loadEvents(submissionId);
  if (!events.some((e) => e.slot === slots.filed)) {
    // A filing that crashed after storing the submission: record its filing as it happened.
    await insertEvent(submissionId, { slot: slots.filed, type: 'filed', by: sub.createdBy, at: sub.createdAt });
    events = await loadEvents(submissionId);
  }
  let eligible: number | undefined;
  const derive = async (): Promise<DerivedState> => {
    const input = { quorum: policy.quorum, eligibleVoters: 0, capsApply: sub.capsApply, now: clock.now() };
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
        await ensureWakeup({ _id: noticeId(submissionId, round), submissionId, kind: 'notice', round, at: noticeEndsAt });
        const won = await fill({ slot: slots.decision(round), type: 'notice_started', round, noticeEndsAt, at: now });
        councilFaults.afterDecision?.(submissionId);
        if (won && deps.enqueuePost) {
          try {
            await deps.enqueuePost(submissionId, round, noticeEndsAt);
          } catch (err) {
            // The notice wake-up is durable; the sweeper posts it if the job never runs.
            deps.log?.warn({ err: (err as Error).message, submissionId }, 'could not enqueue the notice job; the sweeper will post it');
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
            source: { type: 'appeal', id: (state.entries ?? []).length > 1 ? `${appealId}:${e.householdId}` : appealId },
            ruleCode: sub.ruleCode,
            reason: `申诉成立，撤销扣分：${sub.ruleTitle}`,
          });
          reversals.push({ householdId: e.householdId, seq: entry.seq, points: entry.points, spendableDelta: entry.spendableDelta, meritDelta: entry.meritDelta });
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
  if (postedHere && state.status === 'posted' && !state.next) await dropNoticeWakeup(submissionId, state.round);
  if (state.appeal && state.appeal.status !== 'pending') await notifyAppealOutcome(sub, state, events);
  await writeCachedStatus(sub, cachedOf(state));
  return { sub, state, events, quorum: policy.quorum };
}

// ---------------------------------------------------------------------------------------------
// Reach

function villageInReach(p: Principal, villageId: string): boolean {
  return reachesVillage(p, villageId);
}

/** Statuses in which a household reads a neighbour's submission: the public notice is public. */
const PUBLIC_STATUSES: readonly string[] = ['in_notice', 'posted'];

/**
 * S7: how much of a submission a principal reads. Village officials (clerk, council) and the
 * county office read everything; a household reads its own submissions whole, and a
 * neighbour's only in public notice or posted, as `public` (see publicView); else nothing.
 */
function readingOf(p: Principal, sub: Pick<SubmissionDoc, 'householdIds'>, status: string): 'whole' | 'public' | 'none' {
  if (p.role !== 'household') return 'whole';
  if (p.householdId && sub.householdIds.includes(p.householdId)) return 'whole';
  return PUBLIC_STATUSES.includes(status) ? 'public' : 'none';
}

/**
 * What a neighbour reads of a submission in public notice: the deed, the points and the
 * household concerned, and how many approved and rejected; never the attachments (photos,
 * documents about a family), the appeal, or who voted, commented or objected.
 */
function publicView(v: SubmissionView): SubmissionView {
  const out: SubmissionView = { ...v, evidence: { text: v.evidence.text, attachments: [] } };
  if (v.appeal !== undefined) out.appeal = null;
  if (v.history) out.history = v.history.filter((h) => h.type !== 'vote').map((h) => ({ type: h.type, at: h.at, ...(h.round !== undefined ? { round: h.round } : {}) }));
  return out;
}

/** A view shaped for its reader (S7); `none` is 404, so a neighbour's case under review is not revealed. */
function viewFor(p: Principal, sub: SubmissionDoc, v: SubmissionView): SubmissionView {
  const reading = readingOf(p, sub, v.status);
  if (reading === 'none') throw notFound('submission');
  return reading === 'public' ? publicView(v) : v;
}

/**
 * Loads a submission the principal may see (admin, or anyone of its village; a household a
 * neighbour's only in notice or posted, by the cached status), else 404.
 */
async function submissionInReach(p: Principal, id: string): Promise<SubmissionDoc> {
  const sub = await findSubmission(id);
  if (!sub || !villageInReach(p, sub.villageId) || readingOf(p, sub, sub.status) === 'none') throw notFound('submission');
  return sub;
}

async function currentState(sub: SubmissionDoc, deps: CouncilDeps = {}): Promise<Reconciled> {
  const r = await reconcileSubmission(sub._id.toHexString(), deps);
  assert.ok(r, 'a submission that was just read exists');
  return r;
}

// ---------------------------------------------------------------------------------------------
// Filing

export interface NewSubmission {
  villageId: string;
  householdId?: string;
  households?: { householdId: string; quantity?: number }[];
  ruleCode: string;
  quantity?: number;
  occurredOn: string;
  evidence: { text: string; attachments?: string[] };
}

/**
 * S6: a deed lies within the village's window: not in the future, and at most `windowDays`
 * calendar days back, both counted in Asia/Shanghai (the villages' day). Without the window a
 * backdated deed would fall in a month of its own and pass that month's cap afresh.
 */
function occurredOnOutsideWindow(occurredOn: string, windowDays: number): string | undefined {
  const today = shanghaiDate(clock.now());
  if (occurredOn > today) return `must not be in the future (today is ${today} in Asia/Shanghai)`;
  const earliest = addDays(today, -windowDays);
  if (occurredOn < earliest) return `must lie within the village's window of ${windowDays} days: on or after ${earliest} (Asia/Shanghai)`;
  return undefined;
}

function invalid(errors: FieldError[]): DomainError {
  return new DomainError('validation_failed', 'The submission is not valid.', { errors });
}

/**
 * Files a submission (clerk of the village). Everything is validated before anything is
 * written; caps are claimed under a guard so a crash between the claim and the filing gives the
 * claim back. A single submission whose cap is used up is refused with `cap_reached`.
 */
export async function fileSubmission(p: Principal, input: NewSubmission, deps: CouncilDeps = {}): Promise<SubmissionView> {
  if (!villageInReach(p, input.villageId)) throw notFound('village');
  const village = await findVillage(input.villageId);
  if (!village) throw notFound('village');

  const batch = input.households !== undefined;
  if (batch === (input.householdId !== undefined)) {
    throw invalid([{ path: 'householdId', message: 'give householdId (one household) or households (a batch), not both' }]);
  }
  if (batch && input.quantity !== undefined) throw invalid([{ path: 'quantity', message: 'in a batch each household has its own quantity' }]);
  const wanted = batch ? input.households! : [{ householdId: input.householdId!, quantity: input.quantity }];
  const pathOf = (i: number, f: string) => (batch ? `households.${i}.${f}` : f);
  const errors: FieldError[] = [];
  const seen = new Set<string>();
  for (const [i, w] of wanted.entries()) {
    if (seen.has(w.householdId)) errors.push({ path: pathOf(i, 'householdId'), message: 'listed twice' });
    seen.add(w.householdId);
  }
  if (errors.length) throw invalid(errors);
  const households = await Promise.all(wanted.map((w) => findHousehold(w.householdId)));
  households.forEach((h, i) => {
    if (!h || h.villageId !== input.villageId) errors.push({ path: pathOf(i, 'householdId'), message: 'not a household of this village' });
  });
  const occurredOnProblem = occurredOnOutsideWindow(input.occurredOn, village.policy.occurredOnWindowDays ?? DEFAULT_OCCURRED_ON_WINDOW_DAYS);
  if (occurredOnProblem) errors.push({ path: 'occurredOn', message: occurredOnProblem });
  if (errors.length) throw invalid(errors);

  const rule = await resolveRule(input.villageId, input.ruleCode, input.occurredOn);
  if (!rule) throw invalid([{ path: 'ruleCode', message: 'no such rule' }]);
  if (!rule.inForce) throw invalid([{ path: 'ruleCode', message: `rule ${rule.code} is not in force in this village on ${input.occurredOn}` }]);
  if (batch && rule.kind !== 'award') throw invalid([{ path: 'households', message: 'a batch is for one activity of many households: awards only' }]);
  if (rule.attachmentRequired && !(input.evidence.attachments?.length)) {
    throw invalid([{ path: 'evidence.attachments', message: `rule ${rule.code} requires at least one attachment` }]);
  }
  const requested = wanted.map((w, i) => scorePoints(rule, w.quantity, pathOf(i, 'quantity')));
  requested.forEach((r, i) => {
    if (r <= 0) errors.push({ path: pathOf(i, 'quantity'), message: 'gives no points under this rule' });
  });
  if (errors.length) throw invalid(errors);

  const submissionId = new Types.ObjectId();
  const id = submissionId.toHexString();
  const capsApply = rule.capPerMonth !== undefined || rule.capPerYear !== undefined;
  // The guard is there to give back cap claims if the filing dies halfway; without caps a
  // filing is one insert (plus its `filed` event, which reconcile adds if missing).
  const guard = capsApply ? guarded : <T>(_id: string, fn: () => Promise<T>) => fn();
  return guard(id, async () => {
    const lines: SubmissionLine[] = [];
    for (const [i, w] of wanted.entries()) {
      const cap = await claimCap({
        submissionId: id,
        householdId: w.householdId,
        ruleCode: rule.code,
        occurredOn: input.occurredOn,
        requested: requested[i]!,
        capPerMonth: rule.capPerMonth,
        capPerYear: rule.capPerYear,
      });
      const line: SubmissionLine = { householdId: w.householdId, requestedPoints: requested[i]!, points: cap.granted };
      if (w.quantity !== undefined) line.quantity = w.quantity;
      if (cap.limitedBy) Object.assign(line, { capLimitedBy: cap.limitedBy, cap: cap.cap });
      lines.push(line);
    }
    councilFaults.afterCapClaims?.(id);
    if (lines.every((l) => l.points === 0)) {
      const l = lines[0]!;
      for (const line of lines) await releaseCap(id, line.householdId);
      throw new DomainError('cap_reached', `The ${l.capLimitedBy === 'month' ? 'monthly' : 'yearly'} cap of rule ${rule.code} is used up for this household.`, {
        limitedBy: l.capLimitedBy,
        cap: l.cap,
      });
    }
    const now = clock.now();
    const doc: Record<string, unknown> = {
      _id: submissionId,
      villageId: input.villageId,
      batch,
      householdIds: lines.map((l) => l.householdId),
      lines,
      ruleCode: rule.code,
      ruleVersion: rule.version,
      ruleTitle: rule.title,
      kind: rule.kind,
      occurredOn: input.occurredOn,
      evidence: { text: input.evidence.text, attachments: input.evidence.attachments ?? [] },
      capsApply,
      createdBy: p.id,
      status: 'in_review',
      round: 1,
      approvals: 0,
      rejections: 0,
    };
    if (rule.overrideVersion !== undefined) doc.overrideVersion = rule.overrideVersion;
    const [created] = await Submission.create([doc]);
    await insertEvent(id, { slot: slots.filed, type: 'filed', by: p.id, byRole: p.role, at: now });
    const sub = created!.toObject() as SubmissionDoc;
    if (rule.kind === 'deduction') {
      const line = lines[0]!;
      await queueNotification({
        key: `deduction-filed-${id}`,
        householdId: line.householdId,
        villageId: input.villageId,
        submissionId: id,
        kind: 'deduction_filed',
        title: `扣分事项告知：${rule.title}`,
        body: `您户有一项扣分事项“${rule.title}”（${input.occurredOn}，拟扣${line.points}分）已提交村道德评议会评议。评议通过后将公示，公示期间可提出异议。`,
      });
    }
    deps.log?.info({ submissionId: id, ruleCode: rule.code, points: sign(rule.kind) * lines.reduce((a, l) => a + l.points, 0) }, 'submission filed');
    return toView(sub);
  });
}

// ---------------------------------------------------------------------------------------------
// Council and village actions

export async function getSubmission(p: Principal, id: string): Promise<SubmissionView> {
  const sub = await submissionInReach(p, id);
  const r = await currentState(sub);
  return viewFor(p, r.sub, toView(r.sub, r));
}

export async function castVote(p: Principal, id: string, input: { decision: 'approve' | 'reject'; comment?: string }, deps: CouncilDeps = {}): Promise<SubmissionView> {
  const sub = await submissionInReach(p, id);
  if (p.role !== 'council') throw forbidden('Only council members vote.');
  if (p.householdId && sub.householdIds.includes(p.householdId)) {
    throw forbidden('A council member does not vote on a submission about their own household.', 'vote_on_own_household');
  }
  // The cached state says which round is open; only when it says "not in review" is it checked
  // against the events (the cache may lag after a crash). A vote cast into a round that had
  // already moved on is kept in the history but counted nowhere, and the member is told.
  let round = sub.round;
  if (sub.status !== 'in_review') {
    const { state } = await currentState(sub, deps);
    if (state.status !== 'in_review') throw new DomainError('submission_not_in_review', `The submission is ${state.status}, not in review.`);
    round = state.round;
  }
  return guarded(id, async () => {
    const vote: NewEvent = { slot: slots.vote(round, p.id), type: 'vote', round, by: p.id, byRole: p.role, decision: input.decision };
    if (input.comment) vote.comment = input.comment;
    if (!(await insertEvent(id, vote))) throw new DomainError('vote_already_cast', 'You have already voted in this review round.');
    councilFaults.afterVote?.(id);
    const r = (await reconcileSubmission(id, deps))!;
    if (r.state.round !== round) throw new DomainError('review_round_changed', 'The review round changed while you voted; vote again in the new round.');
    return toView(r.sub, r);
  });
}

export interface ObjectionView {
  id: string;
  submissionId: string;
  round: number;
  reason: string;
  by: string;
  createdAt: string;
  submission: SubmissionView;
}

/** A villager or the clerk objects during the notice: the round closes and a new review begins. */
export async function fileObjection(p: Principal, id: string, input: { reason: string }, deps: CouncilDeps = {}): Promise<ObjectionView> {
  const sub = await submissionInReach(p, id);
  if (p.role !== 'household' && p.role !== 'clerk' && p.role !== 'supervisor') throw forbidden('Objections come from the village’s households, its clerk or its supervisors.');
  // The cached state is enough to pick the round: the close slot decides whether the objection
  // still counts. Only a cache that says "not in notice" is checked against the events.
  let cached: { status: string; round: number; noticeEndsAt?: Date } = sub;
  if (sub.status !== 'in_notice') cached = (await currentState(sub, deps)).state;
  const now = clock.now();
  if (cached.status !== 'in_notice' || !cached.noticeEndsAt || now.getTime() >= cached.noticeEndsAt.getTime()) {
    throw new DomainError('submission_not_in_notice', 'The submission is not in its public notice.');
  }
  const round = cached.round;
  return guarded(id, async () => {
    // The close slot is what the posting job also fills: whichever insert is first decides.
    if (!(await insertEvent(id, { slot: slots.close(round), type: 'objected', round, by: p.id, byRole: p.role, reason: input.reason, at: now }))) {
      await reconcileSubmission(id, deps); // the cache was behind: bring it up to date for the next reader
      throw new DomainError('notice_closed', 'The public notice of this round has already closed.');
    }
    await dropNoticeWakeup(id, round);
    const r = (await reconcileSubmission(id, deps))!;
    const event = r.events.find((e) => e.slot === slots.close(round))!;
    const shown = readingOf(p, r.sub, r.state.status) === 'whole' ? toView(r.sub, r) : publicView(toView(r.sub, r));
    return { id: event._id, submissionId: id, round, reason: input.reason, by: p.id, createdAt: now.toISOString(), submission: shown };
  });
}

/** The household concerned appeals a posted deduction within 30 days. */
export async function fileAppeal(p: Principal, id: string, input: { reason: string }, deps: CouncilDeps = {}): Promise<AppealView> {
  const sub = await submissionInReach(p, id);
  if (p.role !== 'household' || !p.householdId || !sub.householdIds.includes(p.householdId)) throw forbidden('Only the household concerned may appeal.');
  if (sub.kind !== 'deduction') throw new DomainError('appeal_not_deduction', 'Only a deduction can be appealed.');
  const { state } = await currentState(sub, deps);
  if (state.status !== 'posted' || !state.postedAt) throw new DomainError('appeal_not_posted', 'Only a posted deduction can be appealed.');
  const deadline = new Date(state.postedAt.getTime() + APPEAL_WINDOW_MS);
  if (clock.now().getTime() > deadline.getTime()) {
    throw new DomainError('appeal_window_closed', `The appeal window closed on ${deadline.toISOString()}.`, { appealDeadline: deadline.toISOString() });
  }
  return guarded(id, async () => {
    if (!(await insertEvent(id, { slot: slots.appeal, type: 'appealed', by: p.id, byRole: p.role, reason: input.reason }))) {
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
export async function decideAppeal(p: Principal, id: string, input: { outcome: 'upheld' | 'dismissed'; comment?: string; note?: string }, deps: CouncilDeps = {}): Promise<AppealView> {
  const sub = await submissionInReach(p, id);
  if (!mayDecideAppeal(p, sub)) throw forbidden('Appeals are decided by the township station (or the county office).');
  const { state } = await currentState(sub, deps);
  if (!state.appeal) throw notFound('appeal');
  if (state.appeal.status !== 'pending') throw new DomainError('appeal_already_decided', 'This appeal has already been decided.');
  return guarded(id, async () => {
    const e: NewEvent = { slot: slots.appealDecision, type: input.outcome === 'upheld' ? 'appeal_upheld' : 'appeal_dismissed', by: p.id, byRole: p.role };
    if (input.comment) e.comment = input.comment;
    if (input.note) e.note = input.note;
    if (!(await insertEvent(id, e))) throw new DomainError('appeal_already_decided', 'This appeal has already been decided.');
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
export async function listSubmissions(p: Principal, q: ListQuery): Promise<{ items: SubmissionView[]; next: string | null }> {
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
  if (p.role === 'household') filter.$or = [{ householdIds: p.householdId ?? '' }, { status: { $in: PUBLIC_STATUSES } }];
  const docs = await Submission.find(filter).sort({ _id: -1 }).limit(limit + 1).lean<SubmissionDoc[]>();
  const items = docs.slice(0, limit).map((d) => viewFor(p, d, toView(d)));
  return { items, next: docs.length > limit ? items[items.length - 1]!.id : null };
}

/**
 * Appeals for the township (`villageIds`: a township station's villages only), oldest first: each
 * submission with its appeal (reason, when it was filed, and the decision with its note once
 * decided), read from the appeal's slots by `_id`.
 */
export async function listAppeals(status: 'pending' | 'upheld' | 'dismissed', limit: number, villageIds?: readonly string[]): Promise<SubmissionView[]> {
  const filter: Record<string, unknown> = { appealStatus: status };
  if (villageIds) filter.villageId = { $in: [...villageIds] };
  const docs = await Submission.find(filter).sort({ _id: 1 }).limit(limit).lean<SubmissionDoc[]>();
  return Promise.all(
    docs.map(async (d) => {
      const id = d._id.toHexString();
      const [filed, decided, reversal] = await Promise.all([readSlot(id, slots.appeal), readSlot(id, slots.appealDecision), readSlot(id, slots.reversal)]);
      const v = toView(d);
      if (filed) v.appeal = appealOf(d, filed, decided, reversal);
      return v;
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// The delayed job and the sweeper

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
  return r.state.round > (w.round ?? 0) || r.state.status === 'posted' || r.state.status === 'rejected';
}

/**
 * The usual way a notice ends, by primary key only: read the round's decision and close slots,
 * close the notice if it is over, post, record the posting, refresh the cache. Returns undefined
 * when the slots say something unusual happened (an objection, a missing decision): the caller
 * then reconciles from the whole history.
 */
async function endNoticeBySlots(sub: SubmissionDoc, round: number): Promise<{ status: string; posted: boolean } | undefined> {
  const id = sub._id.toHexString();
  const decision = await readSlot(id, slots.decision(round));
  if (!decision || decision.type !== 'notice_started' || !decision.noticeEndsAt) return undefined;
  const now = clock.now();
  let close = await readSlot(id, slots.close(round));
  if (!close) {
    if (now.getTime() < decision.noticeEndsAt.getTime()) throw new NoticeNotOverError(decision.noticeEndsAt);
    close = (await closeNotice(id, round, now)) ?? (await readSlot(id, slots.close(round)));
  }
  if (!close || close.type !== 'notice_ended') return undefined;
  const posted = (await readSlot(id, slots.posted)) ?? (await recordPosting(sub, now)) ?? (await readSlot(id, slots.posted));
  assert.ok(posted, 'a posting that lost its slot was recorded by the winner');
  await writeCachedStatus(sub, { status: 'posted', round, noticeEndsAt: decision.noticeEndsAt, postedAt: posted.at });
  await dropNoticeWakeup(id, round);
  return { status: 'posted', posted: true };
}

/** The delayed job's work: end the notice of `round` and post, once. */
export async function endNotice(submissionId: string, round: number, deps: CouncilDeps = {}): Promise<{ status: string; posted: boolean }> {
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
  if (r.state.round === round && r.state.status === 'in_notice' && r.state.noticeEndsAt && !r.state.noticeEnded) {
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
export async function sweepDue(deps: CouncilDeps & { budgetMs?: number } = {}): Promise<{ reconciled: number; settled: number; failed: number }> {
  const totals = { reconciled: 0, settled: 0, failed: 0 };
  const deadline = Date.now() + (deps.budgetMs ?? 30_000);
  for (;;) {
    const due = await Wakeup.find({ at: { $lte: clock.now() } }).sort({ at: 1 }).limit(SWEEP_BATCH).lean<WakeupDoc[]>();
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
            deps.log?.error({ err, submissionId: w.submissionId, wakeup: w._id }, 'reconcile failed; will look again with backoff');
            await Wakeup.updateOne({ _id: w._id }, { $set: { at: nextLook(w, undefined, true), failures: w.failures + 1 } });
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
export async function listPostedLines(villageId: string, from: Date, to: Date, limit = 20_000): Promise<PostedLine[]> {
  return postedLinesOf(await Submission.find({ villageId, postedAt: { $gte: from, $lt: to } }).sort({ postedAt: 1 }).limit(limit).lean<SubmissionDoc[]>());
}

/**
 * Postings of some villages in [from, to) (the monthly rankings job: one read for a county, which
 * MongoDB serves from the village_postedAt index and FerretDB-SQLite with one scan).
 */
export async function listPostedLinesBetween(villageIds: readonly string[], from: Date, to: Date, limit = 2_000_000): Promise<(PostedLine & { villageId: string })[]> {
  const docs = await Submission.find({ villageId: { $in: [...villageIds] }, postedAt: { $gte: from, $lt: to } })
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

// ---------------------------------------------------------------------------------------------
// Filings the system makes on its own: hours of a rated service order, a volunteer's milestone

/** Who a system filing is recorded as (`createdBy`) in the submission's history. */
export const SYSTEM_FILER = 'system';

export interface KeyedFiling {
  /** Exactly one submission is ever filed per key (e.g. `service-order:<orderId>:<volunteerId>`). */
  key: string;
  villageId: string;
  householdId: string;
  ruleCode: string;
  /** Units for a rate rule (hours); ignored for a fixed-points rule. */
  quantity?: number;
  occurredOn: string;
  evidenceText: string;
  serviceOrderId?: string;
  volunteerId?: string;
  milestoneHours?: number;
  /** The village policy lets it skip the council vote: it goes straight to public notice. */
  skipVote: boolean;
}

/** Why a system filing filed nothing (recorded by the caller; the points simply do not arise). */
export type FilingSkip = 'no_rule' | 'no_points' | 'cap_reached' | 'household_not_in_village';

export type KeyedFilingResult = { submission: SubmissionView } | { skipped: FilingSkip };

/** The submission id a key stands for: the first attempt's choice, found again by every retry. */
async function claimFilingKey(key: string): Promise<string> {
  const submissionId = new Types.ObjectId().toHexString();
  try {
    await SubmissionFilingKey.create([{ _id: key, submissionId, createdAt: clock.now() }]);
    return submissionId;
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
    return (await SubmissionFilingKey.findById(key).lean<FilingKeyDoc>())!.submissionId;
  }
}

/** Opens the public notice of round 1 directly (village policy: no vote for rated hours). */
async function openNoticeWithoutVote(submissionId: string, noticePeriod: string, deps: CouncilDeps): Promise<void> {
  const noticeEndsAt = new Date(clock.now().getTime() + durationMs(noticePeriod));
  // The wake-up first, as in reconcile: if we crash after the decision, the sweeper ends the notice.
  await ensureWakeup({ _id: noticeId(submissionId, 1), submissionId, kind: 'notice', round: 1, at: noticeEndsAt });
  const won = await insertEvent(submissionId, {
    slot: slots.decision(1),
    type: 'notice_started',
    round: 1,
    noticeEndsAt,
    by: SYSTEM_FILER,
    byRole: 'system',
    comment: '按本村规定，评单确认的志愿服务时长免于评议，直接公示',
  });
  if (won && deps.enqueuePost) {
    await deps.enqueuePost(submissionId, 1, noticeEndsAt).catch((err: unknown) => {
      deps.log?.warn({ err: (err as Error).message, submissionId }, 'could not enqueue the notice job; the sweeper will post it');
    });
  }
}

/**
 * Files one award for the system, exactly once per `key`: the key's record names the submission
 * id, so a retry (after a crash anywhere in here) or a concurrent call finishes the same
 * submission instead of filing a second. It scores by the rule version in force on
 * `occurredOn` in the village, claims the caps like any filing, and then follows the council
 * flow, or goes straight to public notice when `skipVote`. A case where no points arise (no such
 * rule in force, a cap used up, a household that left the village) files nothing and says why.
 *
 * No guard wake-up is written: the caller retries until it has recorded the result (the service
 * order's reconcile does), and a guard's sweep would release cap claims that the retry, under
 * the same submission id, still relies on.
 */
export async function fileKeyedSubmission(input: KeyedFiling, deps: CouncilDeps = {}): Promise<KeyedFilingResult> {
  const submissionId = await claimFilingKey(input.key);
  if (await findSubmission(submissionId)) {
    const r = (await reconcileSubmission(submissionId, deps))!;
    return { submission: toView(r.sub, r) };
  }
  const [village, household] = await Promise.all([findVillage(input.villageId), findHousehold(input.householdId)]);
  if (!village || !household || household.villageId !== input.villageId) return { skipped: 'household_not_in_village' };
  const rule = await resolveRule(input.villageId, input.ruleCode, input.occurredOn);
  if (!rule || !rule.inForce || rule.kind !== 'award') return { skipped: 'no_rule' };
  const quantity = rule.pointsPerUnit !== undefined ? input.quantity : undefined;
  const requested = scorePoints(rule, quantity);
  if (requested <= 0) return { skipped: 'no_points' };
  const capsApply = rule.capPerMonth !== undefined || rule.capPerYear !== undefined;
  const cap = await claimCap({
    submissionId,
    householdId: input.householdId,
    ruleCode: rule.code,
    occurredOn: input.occurredOn,
    requested,
    capPerMonth: rule.capPerMonth,
    capPerYear: rule.capPerYear,
  });
  if (cap.granted === 0) return { skipped: 'cap_reached' };
  const line: SubmissionLine = { householdId: input.householdId, requestedPoints: requested, points: cap.granted };
  if (quantity !== undefined) line.quantity = quantity;
  if (cap.limitedBy) Object.assign(line, { capLimitedBy: cap.limitedBy, cap: cap.cap });
  const doc: Record<string, unknown> = {
    _id: new Types.ObjectId(submissionId),
    villageId: input.villageId,
    batch: false,
    householdIds: [input.householdId],
    lines: [line],
    ruleCode: rule.code,
    ruleVersion: rule.version,
    ruleTitle: rule.title,
    kind: rule.kind,
    occurredOn: input.occurredOn,
    evidence: { text: input.evidenceText, attachments: [] },
    capsApply,
    createdBy: SYSTEM_FILER,
    status: 'in_review',
    round: 1,
    approvals: 0,
    rejections: 0,
  };
  if (rule.overrideVersion !== undefined) doc.overrideVersion = rule.overrideVersion;
  for (const k of ['serviceOrderId', 'volunteerId', 'milestoneHours'] as const) if (input[k] !== undefined) doc[k] = input[k];
  try {
    await Submission.create([doc]);
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err; // a concurrent attempt stored it first
  }
  await insertEvent(submissionId, { slot: slots.filed, type: 'filed', by: SYSTEM_FILER, byRole: 'system' });
  if (input.skipVote) await openNoticeWithoutVote(submissionId, (village.policy ?? DEFAULT_POLICY).noticePeriod, deps);
  const r = (await reconcileSubmission(submissionId, deps))!;
  deps.log?.info({ submissionId, key: input.key, points: cap.granted }, 'system submission filed');
  return { submission: toView(r.sub, r) };
}
