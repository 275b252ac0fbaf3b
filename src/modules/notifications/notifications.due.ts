/**
 * The due messages (`notifications_due`, N5 in notifications.service.ts): how an attempt's
 * outcome moves a message's entry, the counts /metrics reads from them, and the one-off listing
 * of messages queued before the collection existed.
 */
import { clock } from '../../platform/clock';
import { insertNew, setMark } from '../../platform/db';
import {
  Notification,
  NotificationDue,
  NotificationMark,
  type NotificationDoc,
  type NotificationDueDoc,
} from './notifications.model';

/** What one hand-over came to (notifications.service.ts `dispatchNotification`). */
export type DispatchOutcome =
  'sent' | 'already_sent' | 'busy' | 'later' | 'failed' | 'dead' | 'missing';

/** A due entry whose message still does not exist this long after it was written is dropped (N5). */
export const NOTIFY_ORPHAN_GRACE_MS = 60 * 60_000;
/**
 * Until then such an entry is looked at again this often: its message may be in the middle of
 * being written (a dispatcher run between `queueNotification`'s two inserts), and must not wait
 * for the grace period to be sent.
 */
export const NOTIFY_MISSING_RECHECK_MS = 10_000;

/**
 * N5 after an attempt: a sent message leaves the due messages; a dead one stays, flagged; one
 * still pending is due again when its message says; an entry without a message is looked at
 * again shortly (its message may be being written) and dropped once it is old enough that no
 * `queueNotification` can still be about to write the message.
 */
export async function settleDue(notificationId: string, outcome: DispatchOutcome): Promise<void> {
  const _id = notificationId;
  if (outcome === 'sent' || outcome === 'already_sent') {
    await NotificationDue.deleteOne({ _id });
  } else if (outcome === 'dead') {
    await NotificationDue.updateOne({ _id }, { $set: { dead: true } });
  } else if (outcome === 'missing') {
    const entry = await NotificationDue.findById(_id).lean<NotificationDueDoc>();
    if (!entry) return;
    const now = clock.now().getTime();
    const dropAt = entry.createdAt.getTime() + NOTIFY_ORPHAN_GRACE_MS;
    if (now >= dropAt) await NotificationDue.deleteOne({ _id });
    else
      await NotificationDue.updateOne(
        { _id },
        { $set: { dueAt: new Date(Math.min(dropAt, now + NOTIFY_MISSING_RECHECK_MS)) } },
      );
  } else {
    const n = await Notification.findById(_id)
      .select({ nextAttemptAt: 1 })
      .lean<Pick<NotificationDoc, 'nextAttemptAt'>>();
    if (n) await NotificationDue.updateOne({ _id }, { $set: { dueAt: n.nextAttemptAt } });
  }
}

/** Messages parked after too many failed attempts, and pending ones, for /metrics (N5: the small collection). */
export async function countNotificationsByState(): Promise<{ pending: number; dead: number }> {
  const [pending, dead] = await Promise.all([
    NotificationDue.countDocuments({ dead: { $ne: true } }),
    NotificationDue.countDocuments({ dead: true }),
  ]);
  return { pending, dead };
}

/** Due entries per insert while the migration writes them. */
const DUE_MIGRATION_BATCH = 1000;
/** The due-entries migration's mark in `notification_marks`. */
export const DUE_ENTRIES_MARK = 'due-entries-complete';

/**
 * Gives every pending or dead message queued before `notifications_due` existed its entry (N5),
 * once per database (`npm start` runs it before serving; a mark records that it finished). Safe
 * beside live dispatchers and from several processes: an entry already there is left alone, and
 * an entry written for a message sent meanwhile is deleted by the next dispatcher run. Returns
 * the entries written.
 */
export async function migrateNotificationsDue(): Promise<number> {
  if (await NotificationMark.findById(DUE_ENTRIES_MARK).lean()) return 0;
  let written = 0;
  let batch: NotificationDueDoc[] = [];
  const cursor = Notification.find({ state: { $in: ['pending', 'dead'] } })
    .select({ _id: 1, state: 1, nextAttemptAt: 1, createdAt: 1 })
    .lean<Pick<NotificationDoc, '_id' | 'state' | 'nextAttemptAt' | 'createdAt'>[]>()
    .cursor({ batchSize: DUE_MIGRATION_BATCH });
  for await (const n of cursor) {
    batch.push({
      _id: n._id.toHexString(),
      dueAt: n.nextAttemptAt,
      createdAt: n.createdAt,
      ...(n.state === 'dead' ? { dead: true } : {}),
    });
    if (batch.length >= DUE_MIGRATION_BATCH) {
      written += await insertNew(NotificationDue, batch);
      batch = [];
    }
  }
  written += await insertNew(NotificationDue, batch);
  await setMark(NotificationMark, DUE_ENTRIES_MARK, { at: new Date() });
  return written;
}
