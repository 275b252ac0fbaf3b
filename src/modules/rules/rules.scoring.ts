/**
 * The rule catalogue's shapes and arithmetic, pure (no database): views of versions and
 * overrides, which version and override are in force on a date (RU2), how a rule scores a
 * quantity, and how much of a cap a filing may take (RU4's grant). The invariants are listed
 * in rules.service.ts.
 */
import assert from 'node:assert/strict';
import { DomainError } from '../../platform/errors';
import type { z } from '../../platform/validation';
import {
  OPTIONAL_RULE_TERMS,
  type RuleKind,
  type RuleOverrideDoc,
  type RuleVersionDoc,
} from './rules.model';
import type {
  createOverrideBody,
  createRuleBody,
  effectiveRuleSchema,
  overrideSchema,
  ruleVersionSchema,
} from './rules.schemas';

/** A new rule version as POST /v1/rules takes it: the shape `createRuleBody` declares. */
export type NewRuleVersion = z.infer<typeof createRuleBody>;

/** A rule version as the API shows it: the shape `ruleVersionSchema` declares. */
export type RuleVersionView = z.infer<typeof ruleVersionSchema>;

export function toRuleVersionView(d: RuleVersionDoc): RuleVersionView {
  const v: RuleVersionView = {
    id: d._id.toHexString(),
    code: d.code,
    version: d.version,
    title: d.title,
    kind: d.kind,
    attachmentRequired: d.attachmentRequired,
    retired: d.retired,
    effectiveFrom: d.effectiveFrom,
    createdAt: d.createdAt.toISOString(),
  };
  for (const k of OPTIONAL_RULE_TERMS) {
    if (d[k] !== undefined && d[k] !== null) (v as unknown as Record<string, unknown>)[k] = d[k];
  }
  return v;
}

/** RU2: the version in force on `date` (YYYY-MM-DD), or undefined when none is. */
export function versionInForce<T extends { version: number; effectiveFrom: string }>(
  versions: readonly T[],
  date: string,
): T | undefined {
  let best: T | undefined;
  const start = (v: T) => (v.version === 1 ? '' : v.effectiveFrom);
  for (const v of versions) {
    if (start(v) > date) continue;
    if (!best || start(v) > start(best) || (start(v) === start(best) && v.version > best.version))
      best = v;
  }
  return best;
}

/** The village override in force on `date`: overrides start at their own effectiveFrom only. */
export function overrideInForce<T extends { version: number; effectiveFrom: string }>(
  overrides: readonly T[],
  date: string,
): T | undefined {
  let best: T | undefined;
  for (const o of overrides) {
    if (o.effectiveFrom > date) continue;
    if (
      !best ||
      o.effectiveFrom > best.effectiveFrom ||
      (o.effectiveFrom === best.effectiveFrom && o.version > best.version)
    )
      best = o;
  }
  return best;
}

/** What scores a deed: the county version in force with the village's override applied. */
export type EffectiveRule = z.infer<typeof effectiveRuleSchema>;

export function applyOverride(
  base: RuleVersionDoc,
  override: RuleOverrideDoc | undefined,
): EffectiveRule {
  const r: EffectiveRule = {
    code: base.code,
    version: base.version,
    title: base.title,
    kind: base.kind,
    attachmentRequired: base.attachmentRequired,
    inForce: !base.retired,
  };
  for (const k of ['points', 'pointsPerUnit', 'unit', 'capPerMonth', 'capPerYear'] as const) {
    if (base[k] !== undefined && base[k] !== null)
      (r as unknown as Record<string, unknown>)[k] = base[k];
  }
  if (override) {
    r.overrideVersion = override.version;
    if (override.disabled) r.inForce = false;
    // The override's value replaces the county's in whichever form the village gave it.
    if (override.points !== undefined && override.points !== null) {
      r.points = override.points;
      delete r.pointsPerUnit;
      delete r.unit;
    }
    if (override.pointsPerUnit !== undefined && override.pointsPerUnit !== null && base.unit) {
      r.pointsPerUnit = override.pointsPerUnit;
      r.unit = base.unit;
      delete r.points;
    }
  }
  return r;
}

/** A new override: the body `createOverrideBody` declares, for the rule named in the path. */
export type NewOverride = z.infer<typeof createOverrideBody> & { code: string };

/** A village override as the API shows it: the shape `overrideSchema` declares. */
export type OverrideView = z.infer<typeof overrideSchema>;

export function toOverrideView(d: RuleOverrideDoc): OverrideView {
  const v: OverrideView = {
    id: d._id.toHexString(),
    villageId: d.villageId,
    code: d.code,
    version: d.version,
    disabled: d.disabled,
    effectiveFrom: d.effectiveFrom,
    createdAt: d.createdAt.toISOString(),
  };
  if (d.points !== undefined && d.points !== null) v.points = d.points;
  if (d.pointsPerUnit !== undefined && d.pointsPerUnit !== null) v.pointsPerUnit = d.pointsPerUnit;
  return v;
}

/** Quantities are kept in hundredths so that 1.5 hours is exact integer arithmetic. */
export function toHundredths(quantity: number): number {
  return Math.round(quantity * 100);
}

/**
 * The points (a magnitude) a rule gives for a quantity: fixed points, or the rate times the
 * quantity rounded down to a whole point. Throws validation_failed when the quantity does not
 * fit the rule.
 */
export function scorePoints(
  rule: Pick<EffectiveRule, 'points' | 'pointsPerUnit' | 'unit'>,
  quantity: number | undefined,
  path = 'quantity',
): number {
  if (rule.pointsPerUnit !== undefined) {
    if (quantity === undefined) {
      throw new DomainError('validation_failed', 'The submission is not valid.', {
        errors: [{ path, message: `required: how many ${rule.unit ?? 'units'}` }],
      });
    }
    const points = Math.floor((toHundredths(quantity) * rule.pointsPerUnit) / 100);
    assert.ok(Number.isSafeInteger(points) && points >= 0);
    return points;
  }
  assert.ok(rule.points !== undefined, 'a rule has points or pointsPerUnit');
  if (quantity !== undefined && quantity !== 1) {
    throw new DomainError('validation_failed', 'The submission is not valid.', {
      errors: [{ path, message: 'this rule gives fixed points; omit quantity or send 1' }],
    });
  }
  return rule.points;
}

export interface CapRequest {
  submissionId: string;
  householdId: string;
  ruleCode: string;
  /** YYYY-MM-DD of the deed: caps count by the deed's month and year. */
  occurredOn: string;
  requested: number;
  capPerMonth?: number;
  capPerYear?: number;
}

export interface CapResult {
  granted: number;
  /** Which cap reduced the request, if any. */
  limitedBy?: 'month' | 'year';
  cap?: number;
  usedBefore?: number;
}

/** The grant a head of the chain allows (pure; table-tested). */
export function capGrant(
  usedByMonth: readonly number[],
  month: number,
  req: Pick<CapRequest, 'requested' | 'capPerMonth' | 'capPerYear'>,
): CapResult {
  const monthUsed = usedByMonth[month - 1] ?? 0;
  const yearUsed = usedByMonth.reduce((a, b) => a + b, 0);
  let granted = req.requested;
  let result: CapResult = { granted };
  if (req.capPerMonth !== undefined && granted > req.capPerMonth - monthUsed) {
    granted = Math.max(0, req.capPerMonth - monthUsed);
    result = { granted, limitedBy: 'month', cap: req.capPerMonth, usedBefore: monthUsed };
  }
  if (req.capPerYear !== undefined && granted > req.capPerYear - yearUsed) {
    granted = Math.max(0, req.capPerYear - yearUsed);
    result = { granted, limitedBy: 'year', cap: req.capPerYear, usedBefore: yearUsed };
  }
  return result;
}

export interface PointsPreview {
  ruleCode: string;
  ruleTitle: string;
  kind: RuleKind;
  /** What the rule gives for the quantity, before caps (a magnitude). */
  requestedPoints: number;
  /** What a filing now would be granted after the household's caps (a magnitude). */
  points: number;
  capped: { limitedBy: 'month' | 'year'; cap: number; usedBefore: number } | null;
  attachmentRequired: boolean;
  inForce: boolean;
}
