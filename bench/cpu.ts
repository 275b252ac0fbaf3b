/**
 * CPU time per operation, by process: the API server, the database (the embedded FerretDB's
 * launcher; absent with MONGODB_URI) and the load generator (this process). It says where an
 * operation's CPU goes (on the fourteenth session's machine a redemption cost the API server
 * 1.4–1.7 × what it cost the database). It is not steadier than the rate on a shared machine: the
 * same code gave 4.0 and 4.5 ms in two runs whose rates differed by 14 %.
 *
 * Read from /proc/<pid>/stat (user + system time of all the process's threads, in clock ticks of
 * 10 ms): Linux only; elsewhere the meter reports nothing.
 */
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc (USER_HZ: 100 on every Linux build in use). */
const TICKS_PER_S = 100;

/** The process's CPU time so far (ms), or undefined where /proc is not readable. */
export function cpuMsOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
    return ((utime + stime) * 1000) / TICKS_PER_S;
  } catch {
    return undefined;
  }
}

export type CpuProcesses = Record<string, number | undefined>;

/** CPU ms per operation, by process name, over a stretch of work. */
export interface CpuPerOperation {
  [process: string]: number;
}

/** Starts measuring the named processes; `stop(operations)` gives each one's CPU ms per operation. */
export function cpuMeter(pids: CpuProcesses): { stop(operations: number): CpuPerOperation } {
  const start = new Map<string, { pid: number; ms: number }>();
  for (const [name, pid] of Object.entries(pids)) {
    if (pid === undefined) continue;
    const ms = cpuMsOf(pid);
    if (ms !== undefined) start.set(name, { pid, ms });
  }
  return {
    stop(operations) {
      const per: CpuPerOperation = {};
      if (operations <= 0) return per;
      for (const [name, s] of start) {
        const ms = cpuMsOf(s.pid);
        if (ms !== undefined) per[name] = (ms - s.ms) / operations;
      }
      return per;
    },
  };
}

/**
 * "CPU per redemption: database 2.89, load generator 0.52 ms (/proc, all threads, the warm-up
 * included)", or empty if nothing was measured. The meters run over a closed loop's whole run, its
 * warm-up second included, and divide by every operation started in it.
 */
export function cpuNote(per: CpuPerOperation, what: string): string {
  const parts = Object.entries(per).map(([name, ms]) => `${name} ${ms.toFixed(2)}`);
  return parts.length
    ? `CPU per ${what}: ${parts.join(', ')} ms (/proc, all threads, the warm-up included)`
    : '';
}
