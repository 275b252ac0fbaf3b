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

  constructor(client: MongoClient) {
    client.on('commandStarted', (e: StartedEvent) => {
      if (!this.on) return;
      const key = `${collectionOf(e)} ${e.commandName}`;
      this.counts[key] = (this.counts[key] ?? 0) + 1;
    });
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
): { total: number; byCommand: Record<string, number> } {
  const byCommand: Record<string, number> = {};
  let total = 0;
  for (const [k, n] of Object.entries(counts).sort(
    (a, b) => b[1] - a[1] || a[0].localeCompare(b[0]),
  )) {
    byCommand[k] = n / operations;
    total += n;
  }
  return { total: total / operations, byCommand };
}
