/**
 * The monthly rankings job (`rankings-monthly`): a repeatable job every 10 minutes that stores
 * each finished month's ranking of every county and level once (an hour after the month ends),
 * and catches up on months missed while the workers were down. Redis losing the schedule loses
 * nothing: the runner re-creates it, and the stored rankings are the durable record.
 */
import type { JobDefinition } from '../../platform/queues';
import { rankFinishedMonths } from './rankings.service';

export const RANKINGS_QUEUE = 'rankings-monthly';
export const RANKINGS_EVERY_MS = 10 * 60_000;

export function rankingJobs(opts: { everyMs?: number } = {}): JobDefinition[] {
  return [
    {
      queue: RANKINGS_QUEUE,
      concurrency: 1,
      everyMs: opts.everyMs ?? RANKINGS_EVERY_MS,
      async process(_data, { log }) {
        return rankFinishedMonths({ log });
      },
    },
  ];
}
