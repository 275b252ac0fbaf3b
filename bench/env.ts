/** What every bench section gets: the database, the server child, counters and the run's settings. */
import type { BenchContext } from './context';
import type { Row, RoundTripRow } from './report';
import type { CommandCounts, CommandTimes, RoundTripCounter } from './roundtrips';

export interface ServerHandle {
  /** The server child's process id (for CPU per operation). */
  pid: number;
  apiOrigin: string;
  plainOrigin: string;
  /** Starts counting the server's database round trips. */
  countStart(): void;
  /** Stops counting and returns the counts. */
  countStop(): Promise<CommandCounts>;
  /** The times of the commands of the last counting window (roundtrips.ts lastTimes). */
  lastTimes(): CommandTimes;
}

export interface BenchEnv {
  ctx: BenchContext;
  server: ServerHandle;
  /** Counts this (the load generator's) process's round trips, for in-process operations. */
  counter: RoundTripCounter;
  /** Concurrent clients of the closed loops (the issue: 32). */
  concurrency: number;
  /** Measured window of each closed-loop cell. */
  durationMs: number;
  log(line: string): void;
}

/** The processes whose CPU a closed loop measures (cpu.ts): the API server, the database, this one. */
export const cpuProcesses = (env: BenchEnv) => ({
  'API server': env.server.pid,
  database: env.ctx.dbPid,
  'load generator': process.pid,
});

export interface SectionResult {
  rows: Row[];
  roundTrips: RoundTripRow[];
  /** Machine-readable details beyond the rows. */
  details?: Record<string, unknown>;
}

/** Milliseconds since `t0` as seconds with one decimal, for progress lines. */
export const secondsSince = (t0: number) => ((Date.now() - t0) / 1000).toFixed(1);
