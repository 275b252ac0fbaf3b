/**
 * I2 per entry type (ledger.service.ts): which amounts an entry of each type may carry, and what
 * happens when spendable would fall below zero. Pure; `postEntry` asserts it before writing, so
 * no caller can post an entry that breaks it, and the verbs (ledger.verbs.ts) are built on it.
 */
import assert from 'node:assert/strict';
import type { EntryType } from './ledger.model';

/** The signed amounts of an entry: `points` as the household sees it, and the two deltas. */
export interface Amounts {
  points: number;
  spendableDelta: number;
  meritDelta: number;
}

/** `reject`: refuse with `insufficient_points`; `clamp`: take at most what is spendable. */
export type Shortfall = 'reject' | 'clamp';

interface EntryRule {
  /** Undefined: the type never lowers spendable, so it cannot fall short. */
  shortfall?: Shortfall;
  /** The rule in words (the assertion's message). */
  says: string;
  /** Whether the amounts (a deduction's after its clamp) keep the rule. */
  holds(a: Amounts): boolean;
}

/** Lowers merit by the full amount and spendable by at most that (what was left to take). */
const takesMerit = (a: Amounts) =>
  a.points < 0 &&
  a.meritDelta === a.points &&
  a.spendableDelta >= a.points &&
  a.spendableDelta <= 0;
const raisesBoth = (a: Amounts) =>
  a.points > 0 && a.spendableDelta === a.points && a.meritDelta === a.points;
const spendsOnly = (a: Amounts) =>
  a.points <= 0 && a.spendableDelta === a.points && a.meritDelta === 0;

export const ENTRY_RULES: Readonly<Record<EntryType, EntryRule>> = {
  award: { says: 'an award raises both balances by its points (> 0)', holds: raisesBoth },
  deduction: {
    shortfall: 'clamp',
    says: 'a deduction (< 0) lowers merit by its full amount and spendable by at most that',
    holds: takesMerit,
  },
  redemption: {
    shortfall: 'reject',
    says: 'a redemption (≤ 0; 0 is a void) lowers spendable only',
    holds: spendsOnly,
  },
  expiry: { shortfall: 'reject', says: 'an expiry (≤ 0) lowers spendable only', holds: spendsOnly },
  reversal: {
    says:
      'a reversal gives back what a redemption spent (spendable only) or what a deduction took ' +
      '(merit in full, spendable as far as it was taken); it never lowers a balance',
    holds: (a) =>
      a.meritDelta === 0
        ? a.points >= 0 && a.spendableDelta === a.points
        : a.points > 0 &&
          a.meritDelta === a.points &&
          a.spendableDelta >= 0 &&
          a.spendableDelta <= a.points,
  },
  adjustment: {
    shortfall: 'clamp',
    says: 'an adjustment (≠ 0) moves both balances as an award (+) or a deduction (−) would',
    holds: (a) => raisesBoth(a) || takesMerit(a),
  },
};

type Request = Amounts & { type: EntryType; shortfall?: Shortfall };

/** Asserts I2 on what a caller asks to post (an AssertionError: a caller's bug, nothing written). */
export function assertEntryRule(input: Request): void {
  for (const n of [input.points, input.spendableDelta, input.meritDelta])
    assert.ok(Number.isSafeInteger(n), 'points are integers');
  const rule = ENTRY_RULES[input.type];
  assert.ok(rule.holds(input), `I2: ${rule.says}`);
  // A caller may still name the shortfall; it must be the type's (award and reversal never fall short).
  if (rule.shortfall && input.shortfall)
    assert.equal(input.shortfall, rule.shortfall, `I2: ${input.type} shortfall`);
}

/**
 * The amounts an entry of `type` writes on a head with `spendable` points: the requested ones,
 * a deduction's spendable clamped to what is left, or `shortOf` when a `reject` type falls
 * short. Asserts I2 on the request and on the result.
 */
export function amountsFor(
  input: Request,
  head: { spendable: number },
): Amounts | { shortOf: number } {
  assertEntryRule(input);
  const rule = ENTRY_RULES[input.type];
  const { points, meritDelta } = input;
  let spendableDelta = input.spendableDelta;
  if (head.spendable + spendableDelta < 0) {
    if (rule.shortfall !== 'clamp') return { shortOf: head.spendable };
    spendableDelta = -head.spendable;
  }
  const amounts = { points, spendableDelta, meritDelta };
  assert.ok(rule.holds(amounts), `I2: ${rule.says}`);
  return amounts;
}
