/**
 * Storage: submissions and their append-only events (one slot per decision point), guards
 * and wake-ups.
 * Part of the council workflow (submissions.service.ts re-exports its verbs).
 */

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Types } from 'mongoose';
import { clock } from '../../platform/clock';
import { DomainError, isDuplicateKeyError } from '../../platform/errors';
import { noticeId, slots, type EventType, type StateEvent } from './submission-state';
import {
  Submission,
  SubmissionEvent,
  Wakeup,
  type SubmissionDoc,
  type SubmissionEventDoc,
  type WakeupDoc,
} from './submissions.model';
import { GUARD_MS, EVENTS_MAX } from './submissions.deps';

export async function findSubmission(id: string): Promise<SubmissionDoc | undefined> {
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

export async function loadEvents(submissionId: string): Promise<SubmissionEventDoc[]> {
  const events = await SubmissionEvent.find({ submissionId })
    .limit(EVENTS_MAX)
    .lean<SubmissionEventDoc[]>();
  assert.ok(events.length < EVENTS_MAX, 'a submission has fewer events than EVENTS_MAX');
  // Steps taken in one reconcile may share a millisecond: ties go in the order they happen.
  const byRound = (a: SubmissionEventDoc, b: SubmissionEventDoc) =>
    a.round !== undefined && b.round !== undefined ? a.round - b.round : 0;
  return events.sort(
    (a, b) =>
      a.at.getTime() - b.at.getTime() || byRound(a, b) || EVENT_ORDER[a.type] - EVENT_ORDER[b.type],
  );
}

export function toStateEvent(e: SubmissionEventDoc): StateEvent {
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

export async function readSlot(
  submissionId: string,
  slot: string,
): Promise<SubmissionEventDoc | undefined> {
  return (
    (await SubmissionEvent.findById(eventId(submissionId, slot)).lean<SubmissionEventDoc>()) ??
    undefined
  );
}

export type NewEvent = Omit<SubmissionEventDoc, '_id' | 'submissionId' | 'at'> & { at?: Date };

/** Fills a slot and returns the stored event; undefined when another writer filled it first (S2). */
export async function insertEvent(
  submissionId: string,
  e: NewEvent,
): Promise<SubmissionEventDoc | undefined> {
  const doc = {
    ...e,
    _id: eventId(submissionId, e.slot),
    submissionId,
    at: e.at ?? clock.now(),
  };
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
  await Wakeup.create([
    {
      _id: id,
      submissionId,
      kind: 'guard',
      at: new Date(clock.now().getTime() + GUARD_MS),
      failures: 0,
    },
  ]);
  return id;
}

async function closeGuard(id: string): Promise<void> {
  await Wakeup.deleteOne({ _id: id });
}

/** Runs `fn` under a guard; the guard stays behind only when `fn` fails unexpectedly (a crash). */
export async function guarded<T>(submissionId: string, fn: () => Promise<T>): Promise<T> {
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
export async function dropNoticeWakeup(submissionId: string, round: number): Promise<void> {
  await Wakeup.deleteOne({ _id: noticeId(submissionId, round) });
}

/**
 * Closes the notice of `round` as ended, by filling the round's close slot: the same slot an
 * objection fills, so whichever insert is first decides (S2). The only place a notice is
 * closed without an objection; undefined when the slot was already filled.
 */
export function closeNotice(
  submissionId: string,
  round: number,
  at: Date,
): Promise<SubmissionEventDoc | undefined> {
  return insertEvent(submissionId, { slot: slots.close(round), type: 'notice_ended', round, at });
}

export async function ensureWakeup(w: Omit<WakeupDoc, 'failures'>): Promise<void> {
  try {
    await Wakeup.create([{ ...w, failures: 0 }]);
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
  }
}
