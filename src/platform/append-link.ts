/**
 * The one append loop under every chain (platform/append-chain.ts states its invariants C1–C4):
 * build the next link on the head, insert it under a unique index, and on a refusal re-read the
 * head (from the next, more authoritative reading) and retry with jitter. The ledger calls it
 * directly with its own readings (ledger.posting.ts); `AppendChain` calls it for every other chain.
 */
import assert from 'node:assert/strict';
import { DomainError, isDuplicateKeyError } from './errors';

/** What `build` returns when there is nothing to append: the answer, with nothing written. */
export class NothingToAppend<R> {
  constructor(readonly result: R) {}
}

/** One reading of a head: `{ head }` (undefined head: empty chain), or undefined: ask the next. */
export type HeadReading<H> = () => Promise<{ head: H | undefined } | undefined>;

export interface AppendSpec<H, L, R> {
  /**
   * Readings of the head, cheapest first (an in-memory hint, a cache document, …); the last is
   * the chain itself, the authority, and always answers (C4).
   */
  heads: readonly HeadReading<H>[];
  /**
   * The next link on `head`. May throw (a DomainError refuses, e.g. `out_of_stock`) or return
   * `NothingToAppend`; either way nothing is written.
   */
  build(head: H | undefined): L | NothingToAppend<R>;
  /** Inserts the link; a duplicate-key error means a unique index refused it. */
  insert(link: L): Promise<void>;
  /**
   * After a refused insert: what this source appended before (its own unique index refused the
   * link: C2), or undefined when another writer took the seq (C1).
   */
  appendedBefore(link: L): Promise<R | undefined>;
  /** After the insert: caches, pointers, hints; the answer. */
  committed(link: L): Promise<R>;
  /** The refused insert's head was stale: drop hints of it. */
  forget?(): void;
  /**
   * Before a refusal on the chain's word: what this source appended before, if any (a replay of
   * something that went through must get its answer, not a refusal built on the later head).
   */
  beforeRefusal?(err: unknown): Promise<R | undefined>;
  /** Attempts before giving up under extreme contention, and the 503's message. */
  attempts?: number;
  busy: string;
}

/** Attempts before an append under extreme contention gives up with 503. */
const APPEND_ATTEMPTS_MAX = 200;

function backOff(attempt: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.random() * Math.min(50, attempt * 2)));
}

async function readHead<H>(
  heads: readonly HeadReading<H>[],
  from: number,
): Promise<{ head: H | undefined; stage: number }> {
  for (let stage = from; ; stage++) {
    const reading = await heads[stage]!();
    if (reading) return { head: reading.head, stage };
    assert.ok(stage < heads.length - 1, 'the last reading (the chain itself) always answers');
  }
}

/**
 * Appends one link built on the head (C1, C2, C4): a collision on a hint's head moves one
 * reading on without waiting; a collision on the chain's own head backs off with jitter and
 * re-reads it. A refusal (or nothing to append) counts only when built on the chain's head.
 */
export async function appendLink<H, L, R>(spec: AppendSpec<H, L, R>): Promise<R> {
  const last = spec.heads.length - 1;
  let from = 0;
  for (let attempt = 1; attempt <= (spec.attempts ?? APPEND_ATTEMPTS_MAX); attempt++) {
    const { head, stage } = await readHead(spec.heads, from);
    const authoritative = stage === last;
    let link: L | NothingToAppend<R>;
    try {
      link = spec.build(head);
    } catch (err) {
      if (!authoritative) {
        from = last;
        continue;
      }
      const before = await spec.beforeRefusal?.(err);
      if (before !== undefined) return before;
      throw err;
    }
    if (link instanceof NothingToAppend) {
      if (authoritative) return link.result;
      from = last;
      continue;
    }
    try {
      await spec.insert(link);
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err;
      const before = await spec.appendedBefore(link);
      if (before !== undefined) return before;
      spec.forget?.();
      if (authoritative) await backOff(attempt);
      from = Math.min(stage + 1, last);
      continue;
    }
    return spec.committed(link);
  }
  throw new DomainError('unavailable', spec.busy);
}
