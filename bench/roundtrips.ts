/**
 * Counts database round trips by collection and command, from the driver's command monitoring
 * (`monitorCommands=true` on the connection: one `commandStarted` event per command sent).
 * Server monitoring (hello/heartbeats) is not command-monitored, so only what the code asks
 * for is counted. A count covers everything the process sends while it is on, so the bench
 * counts only while nothing else runs in that process.
 */
import type { MongoClient } from 'mongodb';

/** `collection command` → number of commands sent. */
export type CommandCounts = Record<string, number>;

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
  private readonly outstanding = new Set<number>();

  constructor(client: MongoClient) {
    client.on('commandStarted', (e: StartedEvent & { requestId: number }) => {
      const idle = this.outstanding.size === 0;
      this.outstanding.add(e.requestId);
      if (!this.on) return;
      const key = `${collectionOf(e)} ${e.commandName}`;
      this.counts[key] = (this.counts[key] ?? 0) + 1;
      if (idle) this.counts[WAITS] = (this.counts[WAITS] ?? 0) + 1;
    });
    const done = (e: { requestId: number }) => this.outstanding.delete(e.requestId);
    client.on('commandSucceeded', done);
    client.on('commandFailed', done);
  }

  start(): void {
    this.counts = {};
    this.on = true;
  }

  stop(): CommandCounts {
    this.on = false;
    return this.counts;
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
