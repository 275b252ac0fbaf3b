/**
 * The ledger's verbs: how features move points. Each takes a magnitude (or, for a reversal, the
 * entry it reverses) and works the amounts out from its type's rule (I2, ledger.rules.ts), so no
 * caller decides which balance moves. Each refuses a request that breaks its rule before
 * anything is read or written (an AssertionError: a caller's bug), and is idempotent per source
 * (I3): a retry returns the first entry with `created: false`.
 */
import assert from 'node:assert/strict';
import type { PostEntryResult } from './ledger.chain';
import { postEntry } from './ledger.posting';
import type { Amounts } from './ledger.rules';

export interface Posting {
  householdId: string;
  source: { type: string; id: string };
  ruleCode?: string;
  reason?: string;
}

function magnitude(verb: string, points: number, zeroAllowed = false): void {
  assert.ok(
    Number.isSafeInteger(points) && (zeroAllowed ? points >= 0 : points > 0),
    `${verb}: points are a whole number ${zeroAllowed ? '≥' : '>'} 0 (a magnitude)`,
  );
}

/** Raises both balances (spendable and merit) by `points` (> 0). */
export function award(p: Posting & { points: number }): Promise<PostEntryResult> {
  magnitude('award', p.points);
  const { points, ...rest } = p;
  return postEntry({ ...rest, type: 'award', points, spendableDelta: points, meritDelta: points });
}

/**
 * Lowers merit by the full `points` (> 0) and spendable by as much of it as is left: the entry
 * shows −points, and its spendableDelta what was really taken.
 */
export function deduct(p: Posting & { points: number }): Promise<PostEntryResult> {
  magnitude('deduct', p.points);
  const { points, ...rest } = p;
  return postEntry({
    ...rest,
    type: 'deduction',
    points: -points,
    spendableDelta: -points,
    meritDelta: -points,
  });
}

/**
 * Lowers spendable only, by `points` (≥ 0; 0 records a void: the source is taken and nothing
 * moves). Throws `insufficient_points` when spendable is short, unless the source went through
 * before (its entry is returned).
 */
export function redeem(p: Posting & { points: number }): Promise<PostEntryResult> {
  magnitude('redeem', p.points, true);
  const { points, ...rest } = p;
  return postEntry({
    ...rest,
    type: 'redemption',
    points: -points,
    spendableDelta: -points,
    meritDelta: 0,
  });
}

/** What a reversal undoes: a redemption (what it spent) or a deduction (its entry's amounts). */
export type Reversed = { type: 'redemption'; points: number } | ({ type: 'deduction' } & Amounts);

/**
 * Gives back what an entry took: a redemption's points to spendable (merit never moved); a
 * deduction's merit in full and its spendable as far as the deduction really took it (it may
 * have been clamped). Never lowers a balance.
 */
export function reverse(p: Posting & { reverses: Reversed }): Promise<PostEntryResult> {
  const { reverses, ...rest } = p;
  if (reverses.type === 'redemption') {
    magnitude('reverse a redemption', reverses.points, true);
    const points = reverses.points;
    return postEntry({ ...rest, type: 'reversal', points, spendableDelta: points, meritDelta: 0 });
  }
  const { points, spendableDelta, meritDelta } = reverses;
  assert.ok(
    points < 0 && meritDelta === points && spendableDelta >= points && spendableDelta <= 0,
    'reverse: a deduction took merit in full and spendable as far as it went',
  );
  return postEntry({
    ...rest,
    type: 'reversal',
    points: -points,
    spendableDelta: -spendableDelta,
    meritDelta: -meritDelta,
  });
}

/**
 * An officer's correction by signed `points` (≠ 0): positive acts as an award (both balances),
 * negative as a deduction (merit by the full amount, spendable by at most what is left).
 */
export function adjust(p: Posting & { points: number }): Promise<PostEntryResult> {
  assert.ok(
    Number.isSafeInteger(p.points) && p.points !== 0,
    'adjust: points are a whole number ≠ 0',
  );
  const { points, ...rest } = p;
  return postEntry({
    ...rest,
    type: 'adjustment',
    points,
    spendableDelta: points,
    meritDelta: points,
  });
}
