/**
 * Messages to households (deduction notices, posting notices, appeal outcomes) through an
 * outbox and a pluggable sender.
 *
 * Invariants:
 * - N1 a message is queued at most once per key (unique `key`): the code deciding to notify may
 *   run again after a crash.
 * - N2 no message is handed to the sender by two dispatchers at once: each hand-over first
 *   claims attempt n with a unique insert (`<id>-<n>`).
 * - N3 none is lost: a message stays pending until a delivery record exists; a claim whose
 *   dispatcher died (no outcome after `staleMs`) is followed by a new attempt.
 * - N4 none is sent twice: a message with a delivery record is never handed over again. The one
 *   window left is a crash after the sender accepted the message and before the delivery record
 *   was written; the next attempt carries the same `idempotencyKey` (the message id), which a
 *   real sender (SMS gateway, WeChat template API) passes on so the provider drops the repeat.
 * - N5 the dispatcher finds due messages in `notifications_due`, which holds only the messages
 *   still pending (and the dead ones), never by a filter on `notifications`, which keeps every
 *   message ever queued: on FerretDB such a filter reads the whole collection, every two seconds.
 *   A message's due entry is inserted before the message (so N3 holds across a crash between the
 *   two), follows its next attempt time, and is deleted once the message is sent; an entry whose
 *   message was never written (a crash between the two inserts) is dropped after an hour.
 */
import { Types } from 'mongoose';
import { clock } from '../../platform/clock';
import { insertNew } from '../../platform/db';
import { settleDue, type DispatchOutcome } from './notifications.due';
import { isDuplicateKeyError } from '../../platform/errors';
import { notifyFaults } from '../../platform/faults';
import type { Logger } from '../../platform/logger';
import { cutText } from '../../platform/text';
import {
  Notification,
  NotificationAttempt,
  NotificationDelivery,
  NotificationDue,
  type NotificationAttemptDoc,
  type NotificationDoc,
  type NotificationKind,
} from './notifications.model';
import type { z } from '../../platform/validation';
import type { notificationSchema } from './notifications.schemas';

/** Attempts before a message is parked as `dead` (and counted in /metrics). */
export const NOTIFY_ATTEMPTS_MAX = 10;
/** A claim older than this with no outcome belongs to a dispatcher that died. */
export const NOTIFY_STALE_MS = 5 * 60_000;
/** Messages read per dispatcher batch. */
export const NOTIFY_BATCH = 200;
const NOTIFY_BACKOFF_BASE_MS = 5000;
const NOTIFY_BACKOFF_MAX_MS = 60 * 60_000;

export interface OutgoingMessage {
  /** The notification id; also the idempotency key a provider should dedupe on. */
  idempotencyKey: string;
  householdId: string;
  kind: NotificationKind;
  title: string;
  body: string;
}

/** Hands messages to a channel (SMS, WeChat, a village loudspeaker queue…). */
export interface NotificationSender {
  readonly name: string;
  /** Resolves once the channel accepted the message; throws to have it retried later. */
  send(msg: OutgoingMessage, ctx: { log: Logger }): Promise<{ ref?: string }>;
}

/** The default sender: writes each message to the log (a deployment plugs in its SMS gateway). */
export const loggingSender: NotificationSender = {
  name: 'log',
  send(msg, { log }) {
    log.info(
      {
        notificationId: msg.idempotencyKey,
        householdId: msg.householdId,
        kind: msg.kind,
        title: msg.title,
      },
      'notification sent (logging sender)',
    );
    return Promise.resolve({ ref: `log-${msg.idempotencyKey}` });
  },
};

export type NewNotification = Pick<
  NotificationDoc,
  'key' | 'householdId' | 'villageId' | 'submissionId' | 'kind' | 'title' | 'body'
>;

/**
 * N1: queues a message once per key; returns false when it was already queued. Its due entry goes
 * first (N5): a crash between the two inserts leaves an entry without a message, which the
 * dispatcher drops later, never a message the dispatcher cannot find.
 */
export async function queueNotification(n: NewNotification): Promise<boolean> {
  const now = clock.now();
  const _id = new Types.ObjectId();
  const id = _id.toHexString();
  await insertNew(NotificationDue, [{ _id: id, dueAt: now, createdAt: now }]);
  await notifyFaults.afterDueEntry?.(id);
  try {
    await Notification.create([{ _id, ...n, state: 'pending', attempts: 0, nextAttemptAt: now }]);
    return true;
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err; // the message may have been written: keep its entry
    // Queued before under another id, with its own entry: this one will never have a message.
    await NotificationDue.deleteOne({ _id: id });
    return false;
  }
}

export type NotificationView = z.infer<typeof notificationSchema>;

function toView(d: NotificationDoc): NotificationView {
  const v: NotificationView = {
    id: d._id.toHexString(),
    householdId: d.householdId,
    kind: d.kind,
    title: d.title,
    body: d.body,
    state: d.state,
    createdAt: d.createdAt.toISOString(),
  };
  if (d.submissionId) v.submissionId = d.submissionId;
  if (d.sentAt) v.sentAt = d.sentAt.toISOString();
  return v;
}

/** A household's messages, newest first. The caller has checked the household is in reach. */
export async function listNotifications(
  householdId: string,
  limit: number,
  before?: string,
): Promise<{ items: NotificationView[]; next: string | null }> {
  const filter: Record<string, unknown> = { householdId };
  if (before) filter._id = { $lt: new Types.ObjectId(before) };
  const docs = await Notification.find(filter)
    .sort({ _id: -1 })
    .limit(limit + 1)
    .lean<NotificationDoc[]>();
  const items = docs.slice(0, limit).map(toView);
  return { items, next: docs.length > limit ? items[items.length - 1]!.id : null };
}

export {
  NOTIFY_MISSING_RECHECK_MS,
  NOTIFY_ORPHAN_GRACE_MS,
  countNotificationsByState,
  migrateNotificationsDue,
  type DispatchOutcome,
} from './notifications.due';

function backoffMs(attempt: number): number {
  return Math.min(NOTIFY_BACKOFF_MAX_MS, NOTIFY_BACKOFF_BASE_MS * 2 ** (attempt - 1));
}

/**
 * The latest attempt, found by its id (`<id>-1`, `<id>-2`, …): a lookup by `_id` is the one
 * every backend serves from an index, and a message has at most NOTIFY_ATTEMPTS_MAX attempts.
 */
async function lastAttempt(notificationId: string): Promise<NotificationAttemptDoc | undefined> {
  let last: NotificationAttemptDoc | undefined;
  for (let n = 1; n <= NOTIFY_ATTEMPTS_MAX + 1; n++) {
    const a = await NotificationAttempt.findById(
      `${notificationId}-${n}`,
    ).lean<NotificationAttemptDoc>();
    if (!a) break;
    last = a;
  }
  return last;
}

/** A message already settled (N2–N4): sent (its cache repaired from the delivery record), or dead. */
async function settledOutcome(
  n: NotificationDoc,
  notificationId: string,
): Promise<DispatchOutcome | undefined> {
  if (n.state === 'sent') return 'already_sent';
  const delivered = await NotificationDelivery.findById(notificationId).lean();
  if (delivered) {
    // A crash after the delivery record and before the cache update: repair the cache.
    await Notification.updateOne(
      { _id: n._id },
      { $set: { state: 'sent', sentAt: delivered.sentAt } },
    );
    return 'already_sent';
  }
  if (n.state === 'dead') return 'dead';
  return undefined;
}

/** A claimed hand-over: the message, the attempt's number and its record's id. */
interface Claim {
  notificationId: string;
  attempt: number;
  attemptId: string;
}

/**
 * Claims the next attempt by inserting its record (the unique id decides between two
 * dispatchers), unless the last attempt sent it, is still fresh, or failed and is not due yet,
 * or the attempts are used up. Returns the claim, or the outcome when there is nothing to do.
 */
async function claimAttempt(
  n: NotificationDoc,
  notificationId: string,
  staleMs: number,
): Promise<Claim | DispatchOutcome> {
  const now = clock.now();
  const last = await lastAttempt(notificationId);
  if (last?.outcome === 'sent') {
    // Another dispatcher sent it between our reads (its delivery record came after we looked):
    // it is sent; repair the cache as in settledOutcome.
    await Notification.updateOne(
      { _id: n._id },
      { $set: { state: 'sent', sentAt: last.finishedAt ?? now } },
    );
    return 'already_sent';
  }
  if (last && !last.outcome && now.getTime() - last.claimedAt.getTime() < staleMs) return 'busy';
  if (last?.outcome === 'failed' && n.nextAttemptAt.getTime() > now.getTime()) return 'later';
  const attempt = (last?.n ?? 0) + 1;
  if (attempt > NOTIFY_ATTEMPTS_MAX) {
    await Notification.updateOne({ _id: n._id }, { $set: { state: 'dead' } });
    return 'dead';
  }
  const attemptId = `${notificationId}-${attempt}`;
  try {
    await NotificationAttempt.create([
      { _id: attemptId, notificationId, n: attempt, claimedAt: now },
    ]);
  } catch (err) {
    if (isDuplicateKeyError(err)) return 'busy';
    throw err;
  }
  // Keep the dispatcher's query from offering the message again while this claim is fresh.
  await Notification.updateOne(
    { _id: n._id },
    { $set: { attempts: attempt, nextAttemptAt: new Date(now.getTime() + staleMs) } },
  );
  return { notificationId, attempt, attemptId };
}

/** The sender refused or failed: record why, and retry later with backoff or park it as dead. */
async function recordFailure(
  n: NotificationDoc,
  { notificationId, attempt, attemptId }: Claim,
  err: unknown,
  log: Logger,
): Promise<DispatchOutcome> {
  const message = (err as Error).message ?? String(err);
  log.warn(
    { notificationId, attempt, err: message },
    'notification not accepted by the sender; will retry',
  );
  await NotificationAttempt.updateOne(
    { _id: attemptId },
    { $set: { outcome: 'failed', error: cutText(message, 500), finishedAt: clock.now() } },
  );
  const dead = attempt >= NOTIFY_ATTEMPTS_MAX;
  await Notification.updateOne(
    { _id: n._id },
    {
      $set: {
        state: dead ? 'dead' : 'pending',
        lastError: cutText(message, 500),
        nextAttemptAt: new Date(clock.now().getTime() + backoffMs(attempt)),
      },
    },
  );
  return dead ? 'dead' : 'failed';
}

/** The sender took it: the delivery record first (the truth, N2), then the attempt and the cache. */
async function recordDelivery(
  n: NotificationDoc,
  { notificationId, attempt, attemptId }: Claim,
  sender: string,
  ref: string | undefined,
): Promise<void> {
  const sentAt = clock.now();
  try {
    await NotificationDelivery.create([
      { _id: notificationId, attempt, sender, ...(ref ? { ref } : {}), sentAt },
    ]);
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
  }
  await NotificationAttempt.updateOne(
    { _id: attemptId },
    { $set: { outcome: 'sent', finishedAt: sentAt } },
  );
  await Notification.updateOne({ _id: n._id }, { $set: { state: 'sent', sentAt } });
}

/**
 * Hands one message to the sender unless it was sent, is being sent, or is not due (N2–N4), then
 * brings its due entry up to date (N5).
 */
export async function dispatchNotification(
  notificationId: string,
  sender: NotificationSender,
  opts: { log: Logger; staleMs?: number },
): Promise<DispatchOutcome> {
  const outcome = await handOver(notificationId, sender, opts);
  await settleDue(notificationId, outcome);
  return outcome;
}

async function handOver(
  notificationId: string,
  sender: NotificationSender,
  opts: { log: Logger; staleMs?: number },
): Promise<DispatchOutcome> {
  const staleMs = opts.staleMs ?? NOTIFY_STALE_MS;
  const n = await Notification.findById(notificationId).lean<NotificationDoc>();
  if (!n) return 'missing';
  const settled = await settledOutcome(n, notificationId);
  if (settled) return settled;
  const claim = await claimAttempt(n, notificationId, staleMs);
  if (typeof claim === 'string') return claim;
  notifyFaults.afterClaim?.(notificationId);
  let ref: string | undefined;
  try {
    ({ ref } = await sender.send(
      {
        idempotencyKey: notificationId,
        householdId: n.householdId,
        kind: n.kind,
        title: n.title,
        body: n.body,
      },
      { log: opts.log },
    ));
  } catch (err) {
    return recordFailure(n, claim, err, opts.log);
  }
  notifyFaults.afterSend?.(notificationId);
  await recordDelivery(n, claim, sender.name, ref);
  return 'sent';
}

/** Concurrent hand-overs per dispatcher run: a gateway takes a few at a time. */
const DISPATCH_CONCURRENCY = 8;

/**
 * One dispatcher run: hands every due pending message to the sender, a batch at a time, until
 * none is due or `budgetMs` is spent. Returns counts by outcome.
 */
export async function dispatchDue(
  sender: NotificationSender,
  opts: { log: Logger; staleMs?: number; budgetMs?: number },
): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  const deadline = Date.now() + (opts.budgetMs ?? 30_000);
  for (;;) {
    const due = await NotificationDue.find({ dueAt: { $lte: clock.now() }, dead: { $ne: true } })
      .sort({ dueAt: 1 })
      .limit(NOTIFY_BATCH)
      .select({ _id: 1 })
      .lean<{ _id: string }[]>();
    if (!due.length) break;
    const ids = due.map((d) => d._id);
    let progressed = false;
    for (let i = 0; i < ids.length; i += DISPATCH_CONCURRENCY) {
      const outcomes = await Promise.all(
        ids.slice(i, i + DISPATCH_CONCURRENCY).map((id) => dispatchNotification(id, sender, opts)),
      );
      for (const o of outcomes) {
        counts[o] = (counts[o] ?? 0) + 1;
        if (o !== 'busy' && o !== 'later') progressed = true;
      }
    }
    if (!progressed || due.length < NOTIFY_BATCH || Date.now() > deadline) break;
  }
  return counts;
}
