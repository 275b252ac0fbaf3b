/**
 * Load generation: a closed loop (N workers, each starting its next operation when the last one
 * ends: the rate a system can carry) and an open loop (arrivals on a fixed timetable, whatever
 * the system does: the latency users see at a given rate). Latency in the open loop is measured
 * from the scheduled arrival, not from when the request could be sent, so a slow server cannot
 * hide its queue (coordinated omission).
 */
import { performance } from 'node:perf_hooks';

/** An operation: resolves undefined on success, or a short label of what went wrong. */
export type Operation = (worker: number, i: number) => Promise<string | undefined>;

export interface LoopResult {
  /** Successful operations counted (started in the measured window, finished by its end). */
  ok: number;
  failed: number;
  failures: Record<string, number>;
  /** Successful operations per second over the measured window. */
  ratePerS: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  windowMs: number;
}

export interface OpenLoopResult extends Omit<LoopResult, 'windowMs'> {
  scheduled: number;
  /** Arrivals still waiting or running when the drain time was up: latency only known as ≥. */
  unfinished: number;
  /** True when a percentile falls among the unfinished arrivals (it is then a lower bound). */
  p50Censored: boolean;
  p95Censored: boolean;
  p99Censored: boolean;
  offeredPerS: number;
  /**
   * The same arrivals in two parts: each terminal's first (everything new to the server at once:
   * the terminal, its store and items, the card) and every later one (the steady market day).
   * Answered arrivals only; the headline percentiles above count every arrival.
   */
  phases: { first: PhaseLatency; later: PhaseLatency };
}

/** Latency percentiles of one part of an open loop's answered arrivals. */
export interface PhaseLatency {
  answered: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

function phaseOf(ms: number[]): PhaseLatency {
  const sorted = [...ms].sort((a, b) => a - b);
  return {
    answered: sorted.length,
    p50Ms: percentile(sorted, 50),
    p95Ms: percentile(sorted, 95),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted.length ? sorted[sorted.length - 1]! : NaN,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

function record(failures: Record<string, number>, label: string) {
  failures[label] = (failures[label] ?? 0) + 1;
}

async function attempt(op: Operation, worker: number, i: number): Promise<string | undefined> {
  try {
    return await op(worker, i);
  } catch (err) {
    return (err as Error).message.slice(0, 80);
  }
}

/** A closed-loop window ends after its duration, once this many operations per worker finished. */
const COMPLETIONS_PER_WORKER_MIN = 2;

/**
 * `workers` loops back to back. After `warmupMs` the window opens; it closes when `durationMs`
 * has passed and at least two operations per worker have finished in it (a slow system gets a
 * longer window, up to `windowMaxMs`, rather than a count of the few fast ones). The rate and the
 * latencies are those of the operations that finished in the window, whenever they started, so
 * operations slower than the window are not left out; operations still running when it closes
 * are awaited but not counted.
 */
export async function closedLoop(
  workers: number,
  durationMs: number,
  op: Operation,
  warmupMs = 1000,
  windowMaxMs = 60_000,
): Promise<LoopResult> {
  const from = performance.now() + warmupMs;
  let to = Infinity;
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  let failed = 0;
  let counter = 0;
  const closeWhenDue = (now: number) => {
    if (to !== Infinity || now < from + durationMs) return;
    if (
      latencies.length + failed >= COMPLETIONS_PER_WORKER_MIN * workers ||
      now >= from + windowMaxMs
    )
      to = now;
  };
  const ticker = setInterval(() => closeWhenDue(performance.now()), 50);
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      while (performance.now() < to) {
        const start = performance.now();
        const problem = await attempt(op, w, counter++);
        const end = performance.now();
        closeWhenDue(end);
        if (end < from || end > to) continue;
        if (problem === undefined) latencies.push(end - start);
        else {
          failed++;
          record(failures, problem);
        }
      }
    }),
  );
  clearInterval(ticker);
  const windowMs = to - from;
  latencies.sort((a, b) => a - b);
  return {
    ok: latencies.length,
    failed,
    failures,
    ratePerS: (latencies.length / windowMs) * 1000,
    p50Ms: percentile(latencies, 50),
    p95Ms: percentile(latencies, 95),
    p99Ms: percentile(latencies, 99),
    windowMs,
  };
}

/**
 * `ratePerS` arrivals a second for `durationMs`, dealt round-robin to `workers` (terminals);
 * each terminal serves its arrivals one after another (a cashier serves one customer at a time).
 * Whatever has not finished `drainMs` after the last arrival is counted as unfinished, with a
 * latency of at least the time it waited.
 */
export async function openLoop(
  workers: number,
  ratePerS: number,
  durationMs: number,
  drainMs: number,
  op: Operation,
): Promise<OpenLoopResult> {
  const scheduled = Math.floor((ratePerS * durationMs) / 1000);
  const intervalMs = 1000 / ratePerS;
  const t0 = performance.now() + 200;
  const deadline = t0 + durationMs + drainMs;
  const latencies: { ms: number; done: boolean }[] = [];
  const firstMs: number[] = [];
  const laterMs: number[] = [];
  const failures: Record<string, number> = {};
  let failed = 0;
  let unfinished = 0;
  let lastEnd = t0;
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      for (let j = w; j < scheduled; j += workers) {
        const at = t0 + j * intervalMs;
        await sleep(at - performance.now());
        if (performance.now() >= deadline) {
          unfinished++;
          latencies.push({ ms: deadline - at, done: false });
          continue;
        }
        const problem = await attempt(op, w, j);
        const end = performance.now();
        lastEnd = Math.max(lastEnd, end);
        if (problem === undefined) {
          latencies.push({ ms: end - at, done: true });
          (j < workers ? firstMs : laterMs).push(end - at);
        } else {
          failed++;
          record(failures, problem);
        }
      }
    }),
  );
  latencies.sort((a, b) => a.ms - b.ms);
  const pick = (p: number) => {
    if (latencies.length === 0) return { ms: NaN, censored: false };
    const rank = Math.min(
      latencies.length - 1,
      Math.max(0, Math.ceil((p / 100) * latencies.length) - 1),
    );
    // Unfinished arrivals waited at least their recorded time; any percentile at or past the
    // first of them is a lower bound.
    const firstOpen = latencies.findIndex((l) => !l.done);
    return { ms: latencies[rank]!.ms, censored: firstOpen !== -1 && rank >= firstOpen };
  };
  const [p50, p95, p99] = [pick(50), pick(95), pick(99)];
  const done = latencies.filter((l) => l.done).length;
  return {
    scheduled,
    ok: done,
    failed,
    failures,
    unfinished,
    ratePerS: (done / Math.max(1, lastEnd - t0)) * 1000,
    offeredPerS: ratePerS,
    p50Ms: p50.ms,
    p95Ms: p95.ms,
    p99Ms: p99.ms,
    p50Censored: p50.censored,
    p95Censored: p95.censored,
    p99Censored: p99.censored,
    phases: { first: phaseOf(firstMs), later: phaseOf(laterMs) },
  };
}
