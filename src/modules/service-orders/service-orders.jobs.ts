/**
 * The service-order loop's jobs.
 *
 * - `service-order-timer`: one delayed job per reminder and per timeout of an order (job ids
 *   `order-remind-<id>`, `order-timeout-<id>`: derived from what they do, so enqueueing twice is
 *   harmless). It runs at its time and reminds or escalates, unless the order was accepted.
 *   Early (clocks apart) it fails with a plain error and BullMQ retries it with backoff.
 * - `service-order-sweep`: every few seconds, reconciles orders with due wake-ups (durable
 *   records written before the order), which covers timers Redis lost and ratings that crashed
 *   halfway. This is what makes an escalation survive a Redis that forgot everything.
 */
import { clock } from '../../platform/clock';
import { DomainError } from '../../platform/errors';
import type { JobDefinition, Queues } from '../../platform/queues';
import { id, obj, z } from '../../platform/validation';
import type { CouncilDeps } from '../submissions/submissions.service';
import {
  runOrderTimer,
  sweepOrderWakeups,
  type EnqueueOrderTimer,
} from './service-orders.reconcile';

export const ORDER_TIMER_QUEUE = 'service-order-timer';
export const ORDER_SWEEP_QUEUE = 'service-order-sweep';
/** How often the sweeper looks for due wake-ups (an indexed query that is empty when all is well). */
export const ORDER_SWEEP_EVERY_MS = 5000;

export const orderTimerJobId = (orderId: string, kind: 'remind' | 'timeout') =>
  `order-${kind}-${orderId}`;

const timerPayload = obj({ orderId: id(), kind: z.enum(['remind', 'timeout']) });

/** The API's way to schedule an order's reminder and timeout. */
export function enqueueOrderTimerWith(queues: Queues): EnqueueOrderTimer {
  return async (orderId, kind, at) => {
    const delay = Math.max(0, at.getTime() - clock.now().getTime());
    await queues.add(
      ORDER_TIMER_QUEUE,
      orderTimerJobId(orderId, kind),
      { orderId, kind },
      { delay },
    );
  };
}

export function serviceOrderJobs(
  opts: { sweepEveryMs?: number; council?: CouncilDeps } = {},
): JobDefinition[] {
  return [
    {
      queue: ORDER_TIMER_QUEUE,
      concurrency: 8,
      async process(data, { log }) {
        const parsed = timerPayload.safeParse(data);
        if (!parsed.success) throw new DomainError('validation_failed', 'bad order timer payload');
        return runOrderTimer(parsed.data.orderId, parsed.data.kind, {
          log,
          council: { ...opts.council, log },
        });
      },
    },
    {
      queue: ORDER_SWEEP_QUEUE,
      concurrency: 1,
      everyMs: opts.sweepEveryMs ?? ORDER_SWEEP_EVERY_MS,
      async process(_data, { log }) {
        return sweepOrderWakeups({ log, council: { ...opts.council, log }, budgetMs: 20_000 });
      },
    },
  ];
}
