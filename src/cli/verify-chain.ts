/**
 * Verifies households' hash chains from the stored entries (CONTRACT.md's chain rule, via
 * `verifyChain`) and stops at the first problem unless asked to keep going.
 *
 * Which households: every registered household, as `householdsWithEntries` lists them.
 *
 * Beyond the chain itself, the account cache is a witness: it records (seq, hash) of an entry
 * the ledger wrote. The cache may lag (I5) but never runs ahead and never names a hash the
 * chain does not hold, so a cache that points past the end of the chain shows deleted tail
 * entries, and one whose hash differs from the entry at its seq shows a rewritten chain, two
 * changes the chain alone cannot reveal. Read-only: nothing here writes.
 */
import {
  accountHead,
  entryAt,
  householdsWithEntries,
  verifyChain,
  type ChainProblem,
} from '../modules/ledger/ledger.service';

/**
 * Households verified at once by default. One is fastest on FerretDB's SQLite backend, which
 * serialises queries (measured on the demo county: 12 s sequential, 16 s with 4, 20 s with 8);
 * MongoDB and FerretDB on PostgreSQL gain from `--parallel 8`.
 */
const VERIFY_CONCURRENCY_DEFAULT = 1;

export interface VerifyChainsOptions {
  /** Verify only this household's chain. */
  householdId?: string;
  /** Report every broken chain instead of stopping at the first. */
  keepGoing?: boolean;
  /** Households verified at once (default 1). */
  concurrency?: number;
  /** Called every `progressEvery` chains with the number verified so far. */
  onProgress?: (verified: number) => void;
  progressEvery?: number;
}

export interface VerifyChainsReport {
  /** Chains checked (a household without entries counts as a sound, empty chain). */
  verified: number;
  /** Broken chains in listing order: the first one only, unless `keepGoing`. */
  problems: ChainProblem[];
}

/** Checks one household: its chain, then the account cache against the chain. */
export async function verifyHousehold(householdId: string): Promise<ChainProblem | undefined> {
  const problem = await verifyChain(householdId);
  if (problem) return problem;
  const cached = await accountHead(householdId);
  if (!cached || cached.seq === 0) return undefined;
  // The entry at the cached seq, read fresh (the service may have appended meanwhile), by `_id`:
  // the one look-up every backend answers from an index.
  const entry = await entryAt(householdId, cached.seq);
  if (!entry || entry.seq !== cached.seq || entry.householdId !== householdId) {
    return {
      householdId,
      seq: cached.seq,
      problem: `seq ${cached.seq} is missing although the account cache recorded it (entries deleted, or the cache altered)`,
    };
  }
  if (entry.hash !== cached.hash) {
    return {
      householdId,
      seq: cached.seq,
      problem:
        'the entry differs from the one the account cache recorded (the chain rewritten, or the cache altered)',
    };
  }
  return undefined;
}

/** Verifies one household's chain or all of them. */
export async function verifyChains(opts: VerifyChainsOptions = {}): Promise<VerifyChainsReport> {
  const report: VerifyChainsReport = { verified: 0, problems: [] };
  const every = opts.progressEvery ?? 1000;
  const concurrency = Math.max(1, opts.concurrency ?? VERIFY_CONCURRENCY_DEFAULT);
  const ids: Iterable<string> | AsyncIterable<string> = opts.householdId
    ? [opts.householdId]
    : householdsWithEntries();
  // Windows of ids are verified concurrently and reported in listing order, so "the first
  // broken chain" does not depend on which check finished first.
  let window: string[] = [];
  const flush = async (): Promise<boolean> => {
    const results = new Array<ChainProblem | undefined>(window.length);
    let next = 0;
    const worker = async () => {
      while (next < window.length) {
        const i = next++;
        results[i] = await verifyHousehold(window[i]!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, window.length) }, worker));
    window = [];
    for (const problem of results) {
      report.verified++;
      if (problem) {
        report.problems.push(problem);
        if (!opts.keepGoing) return false;
      }
      if (report.verified % every === 0) opts.onProgress?.(report.verified);
    }
    return true;
  };
  for await (const id of ids) {
    window.push(id);
    if (window.length >= concurrency * 8 && !(await flush())) return report;
  }
  if (window.length) await flush();
  return report;
}
