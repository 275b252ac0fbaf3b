/**
 * The outbox dispatcher as a BullMQ sweeper: every few seconds it hands due messages to the
 * sender. The outbox in the database is the durable record, so Redis losing its data loses
 * no message: the dispatcher's scheduler is re-created and the pending ones are still there.
 */
import type { JobDefinition } from '../../platform/queues';
import { dispatchDue, loggingSender, type NotificationSender } from './notifications.service';

export const NOTIFICATIONS_QUEUE = 'notifications-dispatch';
/** How often the dispatcher looks for due messages. */
export const NOTIFY_EVERY_MS = 2000;

export function notificationJobs(
  opts: { sender?: NotificationSender; everyMs?: number; staleMs?: number } = {},
): JobDefinition[] {
  const sender = opts.sender ?? loggingSender;
  return [
    {
      queue: NOTIFICATIONS_QUEUE,
      concurrency: 1,
      everyMs: opts.everyMs ?? NOTIFY_EVERY_MS,
      async process(_data, { log }) {
        return dispatchDue(sender, { log, staleMs: opts.staleMs, budgetMs: 20_000 });
      },
    },
  ];
}
