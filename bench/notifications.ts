/**
 * The notifications dispatcher at scale (workers, every 2 s; the bench's server does not run it).
 * A deployment's `notifications` keeps every message ever queued, about one per posted award or
 * deduction; the bench city is generated without messages, so this seeds one sent message per
 * household as history, then times one idle dispatcher run (nothing due: what it costs every two
 * seconds on an ordinary day) beside the query it sent before `notifications_due`, a filter on
 * `notifications` that FerretDB answers by reading the whole collection.
 */
import { performance } from 'node:perf_hooks';
import { Types } from 'mongoose';
import { Household } from '../src/modules/households/households.model';
import { Notification } from '../src/modules/notifications/notifications.model';
import { dispatchDue, loggingSender } from '../src/modules/notifications/notifications.service';
import type { BenchEnv } from './env';
import type { Row } from './report';

const SEED_BATCH = 5000;

async function ms(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

export async function dispatcherRows(env: BenchEnv): Promise<Row[]> {
  const households = await Household.estimatedDocumentCount();
  env.log(`seeding ${households} sent messages as the dispatcher's history…`);
  const run = Date.now().toString(36);
  const now = new Date();
  for (let i = 0; i < households; i += SEED_BATCH) {
    const docs = Array.from({ length: Math.min(SEED_BATCH, households - i) }, (_, j) => ({
      _id: new Types.ObjectId(),
      key: `bench-history-${run}-${i + j}`,
      householdId: 'bench',
      villageId: 'bench',
      kind: 'posted',
      title: '积分已入账',
      body: '您户获得10分。',
      state: 'sent',
      attempts: 1,
      nextAttemptAt: now,
      sentAt: now,
      createdAt: now,
    }));
    await Notification.collection.insertMany(docs, { ordered: false });
  }
  const history = await Notification.estimatedDocumentCount();
  env.log('one idle dispatcher run, and the query it sent before…');
  const idle = await ms(() => dispatchDue(loggingSender, { log: env.ctx.logger }));
  const before = await ms(() =>
    Notification.find({ state: 'pending', nextAttemptAt: { $lte: new Date() } })
      .sort({ nextAttemptAt: 1 })
      .limit(200)
      .select({ _id: 1 })
      .lean(),
  );
  const section = 'notifications, in the workers (not run by the bench server)';
  return [
    {
      section,
      what: `the dispatcher's idle run (every 2 s), ${history} messages in the history`,
      value: idle,
      unit: 'ms',
      note: 'reads notifications_due, which holds only pending and dead messages',
    },
    {
      section,
      what: 'the same run as it was: its filter on notifications',
      value: before,
      unit: 'ms',
      ratio: { value: before / Math.max(idle, 0.001), of: 'the idle run' },
      note: 'before notifications_due (FerretDB reads the whole collection for it)',
    },
  ];
}
