/**
 * The rule catalogue (积分细则): county rules versioned by the date a version takes effect, and
 * village overrides (a village may switch a rule off or set its own points).
 *
 * Invariants:
 * - RU1 versions of a code are numbered 1, 2, 3, … without gaps or twins (unique (code, version)
 *   arbitrates concurrent posts; the loser re-reads and takes the next number).
 * - RU2 the version in force on a date is the one with the latest effectiveFrom ≤ that date
 *   (ties: the higher version); version 1 counts as in force from the beginning of time, so
 *   every date before a later version is scored by version 1.
 * - RU3 a rule's kind (award or deduction) never changes between versions.
 * - RU4 a household's use of a capped rule never exceeds the cap of the month or the year
 *   (cap_claims chain, unique (key, seq)); a filing over the cap is reduced to what is left.
 * Scoring happens once, at filing: a later version never changes a filed submission's points.
 */
import assert from 'node:assert/strict';
import { DomainError, isDuplicateKeyError, notFound } from '../../platform/errors';
import { todayUtc } from '../../platform/clock';
import type { Principal } from '../../platform/principal';
import {
  CapClaim,
  RuleOverride,
  RuleVersion,
  type CapClaimDoc,
  type RuleKind,
  type RuleOverrideDoc,
  type RuleVersionDoc,
} from './rules.model';

/** Versions read per code: a rule changes a few times a year, so this is never reached. */
const VERSIONS_MAX = 1000;
const INSERT_ATTEMPTS_MAX = 100;

export interface NewRuleVersion {
  code: string;
  title: string;
  kind: RuleKind;
  points?: number;
  pointsPerUnit?: number;
  unit?: string;
  capPerMonth?: number;
  capPerYear?: number;
  attachmentRequired?: boolean;
  retired?: boolean;
  effectiveFrom?: string;
  description?: string;
}

export interface RuleVersionView {
  id: string;
  code: string;
  version: number;
  title: string;
  kind: RuleKind;
  points?: number;
  pointsPerUnit?: number;
  unit?: string;
  capPerMonth?: number;
  capPerYear?: number;
  attachmentRequired: boolean;
  retired: boolean;
  effectiveFrom: string;
  description?: string;
  createdAt: string;
}

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
  for (const k of [
    'points',
    'pointsPerUnit',
    'unit',
    'capPerMonth',
    'capPerYear',
    'description',
  ] as const) {
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

function ruleError(path: string, message: string): DomainError {
  return new DomainError('validation_failed', 'The rule is not valid.', {
    errors: [{ path, message }],
  });
}

/** Posts a rule: version 1 for a new code, the next version for an existing one (RU1, RU3). */
export async function createRuleVersion(
  actor: Principal | undefined,
  input: NewRuleVersion,
): Promise<RuleVersionView> {
  if ((input.points === undefined) === (input.pointsPerUnit === undefined)) {
    throw ruleError('points', 'give either points (fixed) or pointsPerUnit (a rate), not both');
  }
  if (input.pointsPerUnit !== undefined && !input.unit)
    throw ruleError('unit', 'required with pointsPerUnit');
  if (input.points !== undefined && input.unit !== undefined)
    throw ruleError('unit', 'only used with pointsPerUnit');
  if (
    input.capPerMonth !== undefined &&
    input.capPerYear !== undefined &&
    input.capPerMonth > input.capPerYear
  ) {
    throw ruleError('capPerMonth', 'must not exceed capPerYear');
  }
  const effectiveFrom = input.effectiveFrom ?? todayUtc();
  for (let attempt = 1; attempt <= INSERT_ATTEMPTS_MAX; attempt++) {
    const head = await RuleVersion.findOne({ code: input.code })
      .sort({ version: -1 })
      .lean<RuleVersionDoc>();
    if (head && head.kind !== input.kind)
      throw ruleError(
        'kind',
        `rule ${input.code} is a${head.kind === 'award' ? 'n' : ''} ${head.kind}; its kind cannot change`,
      );
    const doc: Record<string, unknown> = {
      code: input.code,
      version: (head?.version ?? 0) + 1,
      title: input.title,
      kind: input.kind,
      attachmentRequired: input.attachmentRequired ?? false,
      retired: input.retired ?? false,
      effectiveFrom,
    };
    for (const k of [
      'points',
      'pointsPerUnit',
      'unit',
      'capPerMonth',
      'capPerYear',
      'description',
    ] as const) {
      if (input[k] !== undefined) doc[k] = input[k];
    }
    if (actor) doc.createdBy = actor.id;
    try {
      const [created] = await RuleVersion.create([doc]);
      return toRuleVersionView(created!.toObject());
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err;
    }
  }
  throw new DomainError('unavailable', 'The catalogue is busy; retry shortly.');
}

async function versionsOf(code: string): Promise<RuleVersionDoc[]> {
  return RuleVersion.find({ code })
    .sort({ version: 1 })
    .limit(VERSIONS_MAX)
    .lean<RuleVersionDoc[]>();
}

async function overridesOf(villageId: string, code: string): Promise<RuleOverrideDoc[]> {
  return RuleOverride.find({ villageId, code })
    .sort({ version: 1 })
    .limit(VERSIONS_MAX)
    .lean<RuleOverrideDoc[]>();
}

/** Every version of one rule, oldest first. */
export async function getRule(
  code: string,
): Promise<{ code: string; versions: RuleVersionView[] }> {
  const versions = await versionsOf(code);
  if (!versions.length) throw notFound('rule');
  return { code, versions: versions.map(toRuleVersionView) };
}

/** What scores a deed: the county version in force with the village's override applied. */
export interface EffectiveRule {
  code: string;
  version: number;
  overrideVersion?: number;
  title: string;
  kind: RuleKind;
  points?: number;
  pointsPerUnit?: number;
  unit?: string;
  capPerMonth?: number;
  capPerYear?: number;
  attachmentRequired: boolean;
  /** False when the county retired it or the village switched it off on that date. */
  inForce: boolean;
}

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

/** The rule that scores a deed of `date` in a village, or undefined when the code is unknown. */
export async function resolveRule(
  villageId: string,
  code: string,
  date: string,
): Promise<EffectiveRule | undefined> {
  const [versions, overrides] = await Promise.all([versionsOf(code), overridesOf(villageId, code)]);
  const base = versionInForce(versions, date);
  if (!base) return undefined;
  return applyOverride(base, overrideInForce(overrides, date));
}

/** The catalogue as it applies to one village on one date (or the county's, without a village). */
export async function listEffectiveRules(
  villageId: string | undefined,
  date: string,
): Promise<EffectiveRule[]> {
  const all = await RuleVersion.find({})
    .sort({ code: 1, version: 1 })
    .limit(100_000)
    .lean<RuleVersionDoc[]>();
  const overrides = villageId
    ? await RuleOverride.find({ villageId }).limit(100_000).lean<RuleOverrideDoc[]>()
    : [];
  const byCode = new Map<string, RuleVersionDoc[]>();
  for (const v of all) byCode.set(v.code, [...(byCode.get(v.code) ?? []), v]);
  const out: EffectiveRule[] = [];
  for (const [code, versions] of byCode) {
    const base = versionInForce(versions, date);
    if (!base) continue;
    out.push(
      applyOverride(
        base,
        overrideInForce(
          overrides.filter((o) => o.code === code),
          date,
        ),
      ),
    );
  }
  return out;
}

export interface NewOverride {
  villageId: string;
  code: string;
  disabled?: boolean;
  points?: number;
  pointsPerUnit?: number;
  effectiveFrom?: string;
}

export interface OverrideView {
  id: string;
  villageId: string;
  code: string;
  version: number;
  disabled: boolean;
  points?: number;
  pointsPerUnit?: number;
  effectiveFrom: string;
  createdAt: string;
}

function toOverrideView(d: RuleOverrideDoc): OverrideView {
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

/** A village's own version of a county rule; the caller has checked the village is in reach. */
export async function createOverride(actor: Principal, input: NewOverride): Promise<OverrideView> {
  const versions = await versionsOf(input.code);
  if (!versions.length) throw notFound('rule');
  const head = versions[versions.length - 1]!;
  if (input.points !== undefined && input.pointsPerUnit !== undefined)
    throw ruleError('points', 'give points or pointsPerUnit, not both');
  if (input.pointsPerUnit !== undefined && head.pointsPerUnit === undefined)
    throw ruleError('pointsPerUnit', 'this rule gives fixed points; set points');
  if (input.points !== undefined && head.points === undefined)
    throw ruleError('points', 'this rule is a rate; set pointsPerUnit');
  const effectiveFrom = input.effectiveFrom ?? todayUtc();
  for (let attempt = 1; attempt <= INSERT_ATTEMPTS_MAX; attempt++) {
    const last = await RuleOverride.findOne({ villageId: input.villageId, code: input.code })
      .sort({ version: -1 })
      .lean<RuleOverrideDoc>();
    const doc: Record<string, unknown> = {
      villageId: input.villageId,
      code: input.code,
      version: (last?.version ?? 0) + 1,
      disabled: input.disabled ?? false,
      effectiveFrom,
      createdBy: actor.id,
    };
    if (input.points !== undefined) doc.points = input.points;
    if (input.pointsPerUnit !== undefined) doc.pointsPerUnit = input.pointsPerUnit;
    try {
      const [created] = await RuleOverride.create([doc]);
      return toOverrideView(created!.toObject());
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err;
    }
  }
  throw new DomainError('unavailable', 'The catalogue is busy; retry shortly.');
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

const capKey = (householdId: string, ruleCode: string, year: string) =>
  `${householdId}|${ruleCode}|${year}`;
const claimSource = (submissionId: string, householdId: string) =>
  `${submissionId}|${householdId}|claim`;
const releaseSource = (submissionId: string, householdId: string) =>
  `${submissionId}|${householdId}|release`;

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

async function appendClaim(
  key: string,
  sourceId: string,
  submissionId: string,
  month: number,
  decide: (usedByMonth: number[]) => { delta: number; result: CapResult },
): Promise<CapResult> {
  for (let attempt = 1; attempt <= INSERT_ATTEMPTS_MAX; attempt++) {
    const existing = await CapClaim.findOne({ sourceId }).lean<CapClaimDoc>();
    if (existing) return { granted: Math.abs(existing.delta) };
    const head = await CapClaim.findOne({ key }).sort({ seq: -1 }).lean<CapClaimDoc>();
    const used = head ? [...head.usedByMonth] : new Array<number>(12).fill(0);
    const { delta, result } = decide(used);
    // Nothing to take (the cap is used up): nothing to record either.
    if (delta === 0) return result;
    used[month - 1] = (used[month - 1] ?? 0) + delta;
    assert.ok(used[month - 1]! >= 0, 'RU4: cap use never below zero');
    try {
      await CapClaim.create([
        { key, seq: (head?.seq ?? 0) + 1, sourceId, submissionId, delta, month, usedByMonth: used },
      ]);
      return result;
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err;
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(20, attempt)));
    }
  }
  throw new DomainError(
    'unavailable',
    'Too many filings at once for this household; retry shortly.',
  );
}

/**
 * RU4: takes up to `requested` points of a household's caps for a submission, once per
 * submission and household (a retry returns the first grant). Uncapped rules write nothing.
 */
export async function claimCap(req: CapRequest): Promise<CapResult> {
  if (req.capPerMonth === undefined && req.capPerYear === undefined)
    return { granted: req.requested };
  const month = Number(req.occurredOn.slice(5, 7));
  return appendClaim(
    capKey(req.householdId, req.ruleCode, req.occurredOn.slice(0, 4)),
    claimSource(req.submissionId, req.householdId),
    req.submissionId,
    month,
    (used) => {
      const result = capGrant(used, month, req);
      return { delta: result.granted, result };
    },
  );
}

/** Gives a rejected (or never filed) submission's claim back to the cap; idempotent. */
export async function releaseCap(submissionId: string, householdId: string): Promise<void> {
  const claim = await CapClaim.findOne({
    sourceId: claimSource(submissionId, householdId),
  }).lean<CapClaimDoc>();
  if (!claim || claim.delta === 0) return;
  await appendClaim(
    claim.key,
    releaseSource(submissionId, householdId),
    submissionId,
    claim.month,
    () => ({ delta: -claim.delta, result: { granted: claim.delta } }),
  );
}

/** Households that hold a cap claim for a submission (to release claims of a filing that crashed). */
export async function claimedHouseholds(submissionId: string): Promise<string[]> {
  const claims = await CapClaim.find({ submissionId }).limit(10_000).lean<CapClaimDoc[]>();
  return [
    ...new Set(
      claims.filter((c) => c.sourceId.endsWith('|claim')).map((c) => c.sourceId.split('|')[1]!),
    ),
  ];
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

/**
 * What a filing would give, without filing: the rule in force on the deed's date scores the
 * quantity and the household's cap use so far reduces it (RU4's rule, read-only: nothing is
 * claimed, so a filing a moment later may still be reduced further by one filed in between).
 */
export async function previewPoints(input: {
  villageId: string;
  householdId: string;
  ruleCode: string;
  quantity?: number;
  occurredOn: string;
}): Promise<PointsPreview> {
  const rule = await resolveRule(input.villageId, input.ruleCode, input.occurredOn);
  if (!rule) throw notFound('rule');
  const requested = scorePoints(rule, input.quantity, 'query.quantity');
  let result: CapResult = { granted: requested };
  if (rule.capPerMonth !== undefined || rule.capPerYear !== undefined) {
    const head = await CapClaim.findOne({
      key: capKey(input.householdId, rule.code, input.occurredOn.slice(0, 4)),
    })
      .sort({ seq: -1 })
      .lean<CapClaimDoc>();
    result = capGrant(
      head ? head.usedByMonth : new Array<number>(12).fill(0),
      Number(input.occurredOn.slice(5, 7)),
      { requested, capPerMonth: rule.capPerMonth, capPerYear: rule.capPerYear },
    );
  }
  return {
    ruleCode: rule.code,
    ruleTitle: rule.title,
    kind: rule.kind,
    requestedPoints: requested,
    points: result.granted,
    capped: result.limitedBy
      ? { limitedBy: result.limitedBy, cap: result.cap!, usedBefore: result.usedBefore ?? 0 }
      : null,
    attachmentRequired: rule.attachmentRequired,
    inForce: rule.inForce,
  };
}
