/**
 * Verifies households' hash chains from the stored entries (CONTRACT.md's chain rule, the rules
 * of src/modules/ledger/chain-check.ts) and stops at the first problem unless asked to keep going.
 *
 * One household: `verifyChain` reads its entries by `_id`, then the account cache is compared
 * with the chain. Every household (as `householdsWithEntries` lists them): one pass over the
 * entries for all chains at once (chain-pass.ts), with the same checks and the same report.
 *
 * Beyond the chain itself, the account cache is a witness: it records (seq, hash) of an entry
 * the ledger wrote. The cache may lag (I5) but never runs ahead and never names a hash the
 * chain does not hold, so a cache that points past the end of the chain shows deleted tail
 * entries, and one whose hash differs from the entry at its seq shows a rewritten chain, two
 * changes the chain alone cannot reveal. Read-only: nothing here writes.
 */
import { cacheWitnessProblem } from '../modules/ledger/chain-check';
import { verifyAllChains } from '../modules/ledger/chain-pass';
import {
  accountHead,
  entryAt,
  verifyChain,
  type ChainProblem,
} from '../modules/ledger/ledger.service';

export interface VerifyChainsOptions {
  /** Verify only this household's chain. */
  householdId?: string;
  /** Report every broken chain instead of stopping at the first. */
  keepGoing?: boolean;
  /** All chains: called every `progressEvery` entries read (default 100,000) with the count. */
  onEntries?: (read: number) => void;
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
  const witness = cacheWitnessProblem(householdId, cached, await entryAt(householdId, cached.seq));
  return witness ? { householdId, seq: cached.seq, problem: witness } : undefined;
}

/** Verifies one household's chain or all of them. */
export async function verifyChains(opts: VerifyChainsOptions = {}): Promise<VerifyChainsReport> {
  if (opts.householdId === undefined) {
    const { verified, problems } = await verifyAllChains({
      ...(opts.keepGoing ? { keepGoing: true } : {}),
      ...(opts.onEntries ? { onEntries: opts.onEntries } : {}),
      ...(opts.progressEvery !== undefined ? { progressEvery: opts.progressEvery } : {}),
    });
    return { verified, problems };
  }
  const problem = await verifyHousehold(opts.householdId);
  return { verified: 1, problems: problem ? [problem] : [] };
}
