/**
 * Counts database round trips by collection and command, from the driver's command monitoring
 * (`monitorCommands=true` on the connection: one `commandStarted` event per command sent).
 * Server monitoring (hello/heartbeats) is not command-monitored, so only what the code asks
 * for is counted. A count covers everything the process sends while it is on, so the bench
 * counts only while nothing else runs in that process.
 */
import type { MongoClient } from 'mongodb';
import { percentile } from './load';

/** `collection command` → number of commands sent. */
export type CommandCounts = Record<string, number>;

/** How long one kind of command took, from its send to its reply (the driver's `duration`). */
export interface CommandTime {
  n: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  totalMs: number;
}
/** `collection command` → its times, in one counting window. */
export type CommandTimes = Record<string, CommandTime>;

/** Summaries of each command kind's durations, longest total first. */
export function summariseTimes(durations: Map<string, number[]>): CommandTimes {
  const out: CommandTimes = {};
  const entries = [...durations].map(([key, ds]) => {
    const sorted = [...ds].sort((a, b) => a - b);
    const totalMs = sorted.reduce((a, b) => a + b, 0);
    return [
      key,
      {
        n: sorted.length,
        p50Ms: percentile(sorted, 50),
        p95Ms: percentile(sorted, 95),
        p99Ms: percentile(sorted, 99),
        maxMs: sorted[sorted.length - 1]!,
        totalMs,
      },
    ] as const;
  });
  entries.sort((a, b) => b[1].totalMs - a[1].totalMs || a[0].localeCompare(b[0]));
  for (const [key, t] of entries) out[key] = t;
  return out;
}

/**
 * Not a command: the commands sent while no other command of the process was outstanding. With
 * one operation at a time, that is how many database waits the operation makes one after
 * another (commands sent side by side, e.g. with Promise.all, count once together).
 */
const WAITS = '~waits';

interface StartedEvent {
  commandName: string;
  command: Record<string, unknown>;
}

/** The collection a command addresses (getMore names it in `collection`). */
function collectionOf(e: StartedEvent): string {
  const target = e.commandName === 'getMore' ? e.command.collection : e.command[e.commandName];
  return typeof target === 'string' ? target : '(database)';
}

export class RoundTripCounter {
  private counts: CommandCounts = {};
  private on = false;
  /** Commands counted in this window and not yet answered: requestId → their key. */
  private readonly outstanding = new Map<number, string | undefined>();
  private durations = new Map<string, number[]>();
  private times: CommandTimes = {};

  constructor(client: MongoClient) {
    client.on('commandStarted', (e: StartedEvent & { requestId: number }) => {
      const idle = this.outstanding.size === 0;
      const key = `${collectionOf(e)} ${e.commandName}`;
      this.outstanding.set(e.requestId, this.on ? key : undefined);
      if (!this.on) return;
      this.counts[key] = (this.counts[key] ?? 0) + 1;
      if (idle) this.counts[WAITS] = (this.counts[WAITS] ?? 0) + 1;
    });
    const done = (e: { requestId: number; duration: number }) => {
      const key = this.outstanding.get(e.requestId);
      this.outstanding.delete(e.requestId);
      if (!this.on || key === undefined) return;
      let list = this.durations.get(key);
      if (!list) this.durations.set(key, (list = []));
      list.push(e.duration);
    };
    client.on('commandSucceeded', done);
    client.on('commandFailed', done);
  }

  start(): void {
    this.counts = {};
    this.durations = new Map();
    this.on = true;
  }

  stop(): CommandCounts {
    this.on = false;
    this.times = summariseTimes(this.durations);
    return this.counts;
  }

  /**
   * The times of the commands sent and answered in the last window (from send to reply, as the
   * driver measures it: a write's wait in the write lane comes before the send and is not in it).
   */
  lastTimes(): CommandTimes {
    return this.times;
  }
}

/** Per-operation figures: each count divided by the number of operations. */
export function perOperation(
  counts: CommandCounts,
  operations: number,
): { total: number; waits: number; byCommand: Record<string, number> } {
  const byCommand: Record<string, number> = {};
  let total = 0;
  for (const [k, n] of Object.entries(counts).sort(
    (a, b) => b[1] - a[1] || a[0].localeCompare(b[0]),
  )) {
    if (k === WAITS) continue;
    byCommand[k] = n / operations;
    total += n;
  }
  return { total: total / operations, waits: (counts[WAITS] ?? 0) / operations, byCommand };
}
