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
 * Versions, overrides and cap claims are appended through the platform's one append loop
 * (`appendLink`, platform/append-chain.ts); the pure arithmetic is in rules.scoring.ts.
 */
import assert from 'node:assert/strict';
import { appendLink, NothingToAppend } from '../../platform/append-chain';
import { DomainError, notFound } from '../../platform/errors';
import { todayUtc } from '../../platform/clock';
import type { Principal } from '../../platform/principal';
import {
  CapClaim,
  OPTIONAL_RULE_TERMS,
  RuleOverride,
  RuleVersion,
  type CapClaimDoc,
  type RuleOverrideDoc,
  type RuleVersionDoc,
} from './rules.model';
import {
  applyOverride,
  capGrant,
  overrideInForce,
  scorePoints,
  toOverrideView,
  toRuleVersionView,
  versionInForce,
  type CapRequest,
  type CapResult,
  type EffectiveRule,
  type NewOverride,
  type NewRuleVersion,
  type OverrideView,
  type PointsPreview,
  type RuleVersionView,
} from './rules.scoring';

export * from './rules.scoring';

/** Versions read per code: a rule changes a few times a year, so this is never reached. */
const VERSIONS_MAX = 1000;
const INSERT_ATTEMPTS_MAX = 100;

function ruleError(path: string, message: string): DomainError {
  return new DomainError('validation_failed', 'The rule is not valid.', {
    errors: [{ path, message }],
  });
}

function checkRuleInput(input: NewRuleVersion): void {
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
}

/** The next version of a code on `head` (RU1); refuses a change of kind (RU3). */
function nextVersion(
  actor: Principal | undefined,
  input: NewRuleVersion,
  effectiveFrom: string,
  head: RuleVersionDoc | undefined,
): Record<string, unknown> {
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
  for (const k of OPTIONAL_RULE_TERMS) {
    if (input[k] !== undefined) doc[k] = input[k];
  }
  if (actor) doc.createdBy = actor.id;
  return doc;
}

/**
 * Appends a numbered version (RU1) through the platform's append loop: the head is the highest
 * version (a catalogue read, not a hot path), and a collision on (…, version) re-reads it.
 */
async function appendVersion<D, V>(
  readHead: () => Promise<D | null>,
  build: (head: D | undefined) => Record<string, unknown>,
  create: (doc: Record<string, unknown>) => Promise<V>,
): Promise<V> {
  let created: V | undefined;
  return appendLink<D, Record<string, unknown>, V>({
    heads: [async () => ({ head: (await readHead()) ?? undefined })],
    build,
    insert: async (doc) => {
      created = await create(doc);
    },
    appendedBefore: () => Promise.resolve(undefined), // no source: the version slot was taken
    committed: () => Promise.resolve(created!),
    attempts: INSERT_ATTEMPTS_MAX,
    busy: 'The catalogue is busy; retry shortly.',
  });
}

/** Posts a rule: version 1 for a new code, the next version for an existing one (RU1, RU3). */
export async function createRuleVersion(
  actor: Principal | undefined,
  input: NewRuleVersion,
): Promise<RuleVersionView> {
  checkRuleInput(input);
  const effectiveFrom = input.effectiveFrom ?? todayUtc();
  return appendVersion(
    () => RuleVersion.findOne({ code: input.code }).sort({ version: -1 }).lean<RuleVersionDoc>(),
    (head) => nextVersion(actor, input, effectiveFrom, head),
    async (doc) => toRuleVersionView((await RuleVersion.create([doc]))[0]!.toObject()),
  );
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
  return appendVersion(
    () =>
      RuleOverride.findOne({ villageId: input.villageId, code: input.code })
        .sort({ version: -1 })
        .lean<RuleOverrideDoc>(),
    (last) => {
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
      return doc;
    },
    async (doc) => toOverrideView((await RuleOverride.create([doc]))[0]!.toObject()),
  );
}

const capKey = (householdId: string, ruleCode: string, year: string) =>
  `${householdId}|${ruleCode}|${year}`;
const claimSource = (submissionId: string, householdId: string) =>
  `${submissionId}|${householdId}|claim`;
const releaseSource = (submissionId: string, householdId: string) =>
  `${submissionId}|${householdId}|release`;

/** The newest claim of a cap chain (a filing's read, not a lone `_id`: see the README). */
async function capHead(key: string): Promise<CapClaimDoc | undefined> {
  return (await CapClaim.findOne({ key }).sort({ seq: -1 }).lean<CapClaimDoc>()) ?? undefined;
}

/** What a source's claim or release granted, if it was appended before (unique sourceId). */
async function claimedBefore(sourceId: string): Promise<CapResult | undefined> {
  const existing = await CapClaim.findOne({ sourceId }).lean<CapClaimDoc>();
  return existing ? { granted: Math.abs(existing.delta) } : undefined;
}

type NewClaim = Omit<CapClaimDoc, '_id' | 'createdAt'>;

async function appendClaim(
  key: string,
  sourceId: string,
  submissionId: string,
  month: number,
  decide: (usedByMonth: number[]) => { delta: number; result: CapResult },
): Promise<CapResult> {
  const before = await claimedBefore(sourceId);
  if (before) return before;
  return appendLink<CapClaimDoc, { claim: NewClaim; result: CapResult }, CapResult>({
    heads: [async () => ({ head: await capHead(key) })],
    build: (head) => {
      const used = head ? [...head.usedByMonth] : new Array<number>(12).fill(0);
      const { delta, result } = decide(used);
      // Nothing to take (the cap is used up): nothing to record either.
      if (delta === 0) return new NothingToAppend(result);
      used[month - 1] = (used[month - 1] ?? 0) + delta;
      assert.ok(used[month - 1]! >= 0, 'RU4: cap use never below zero');
      const seq = (head?.seq ?? 0) + 1;
      return {
        claim: { key, seq, sourceId, submissionId, delta, month, usedByMonth: used },
        result,
      };
    },
    insert: async ({ claim }) => {
      await CapClaim.create([claim]);
    },
    appendedBefore: () => claimedBefore(sourceId),
    committed: ({ result }) => Promise.resolve(result),
    attempts: INSERT_ATTEMPTS_MAX,
    busy: 'Too many filings at once for this household; retry shortly.',
  });
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
    const head = await capHead(capKey(input.householdId, rule.code, input.occurredOn.slice(0, 4)));
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
