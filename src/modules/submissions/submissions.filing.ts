/**
 * Filing: a clerk's submission (rule, points and caps fixed at filing, S4), in four steps:
 * validate the request, resolve the rule in force and score it, claim the caps line by line,
 * insert the submission with its `filed` event. The steps that system filings share (a line's
 * cap claim, the stored record) are exported for submissions.system-filing.ts.
 * Part of the council workflow (submissions.service.ts re-exports its verbs).
 */

import { Types } from 'mongoose';
import { addDays, clock, shanghaiDate } from '../../platform/clock';
import { DomainError, notFound, type FieldError } from '../../platform/errors';
import { type Principal } from '../../platform/principal';
import { findHousehold } from '../households/households.service';
import { queueNotification } from '../notifications/notifications.service';
import {
  claimCap,
  releaseCap,
  resolveRule,
  scorePoints,
  type EffectiveRule,
} from '../rules/rules.service';
import { DEFAULT_OCCURRED_ON_WINDOW_DAYS, findVillage } from '../villages/villages.service';
import { slots } from './submission-state';
import { Submission, type SubmissionDoc, type SubmissionLine } from './submissions.model';
import { CouncilDeps } from './submissions.deps';
import { councilFaults } from '../../platform/faults';
import { SubmissionView, sign, toView } from './submissions.views';
import { insertEvent, guarded } from './submissions.store';
import { villageInReach } from './submissions.reach';

export interface NewSubmission {
  villageId: string;
  householdId?: string;
  households?: { householdId: string; quantity?: number }[];
  ruleCode: string;
  quantity?: number;
  occurredOn: string;
  evidence: { text: string; attachments?: string[] };
}

/** One household line as asked for: a single submission has one, a batch many. */
interface WantedLine {
  householdId: string;
  quantity?: number;
}

/** A validated request: its lines, and where a line's field errors point. */
interface CheckedFiling {
  batch: boolean;
  wanted: WantedLine[];
  pathOf: (i: number, field: string) => string;
}

/**
 * S6: a deed lies within the village's window: not in the future, and at most `windowDays`
 * calendar days back, both counted in Asia/Shanghai (the villages' day). Without the window a
 * backdated deed would fall in a month of its own and pass that month's cap afresh.
 */
function occurredOnOutsideWindow(occurredOn: string, windowDays: number): string | undefined {
  const today = shanghaiDate(clock.now());
  if (occurredOn > today) return `must not be in the future (today is ${today} in Asia/Shanghai)`;
  const earliest = addDays(today, -windowDays);
  if (occurredOn < earliest)
    return `must lie within the village's window of ${windowDays} days: on or after ${earliest} (Asia/Shanghai)`;
  return undefined;
}

function invalid(errors: FieldError[]): DomainError {
  return new DomainError('validation_failed', 'The submission is not valid.', { errors });
}

/** Whether a rule has caps: a filing under it claims them, and a rejection gives them back. */
export function capsApplyTo(rule: EffectiveRule): boolean {
  return rule.capPerMonth !== undefined || rule.capPerYear !== undefined;
}

/** The request's shape: one household or a batch, each household once. */
function checkShape(input: NewSubmission): CheckedFiling {
  const batch = input.households !== undefined;
  if (batch === (input.householdId !== undefined)) {
    throw invalid([
      {
        path: 'householdId',
        message: 'give householdId (one household) or households (a batch), not both',
      },
    ]);
  }
  if (batch && input.quantity !== undefined)
    throw invalid([
      { path: 'quantity', message: 'in a batch each household has its own quantity' },
    ]);
  const wanted = batch
    ? input.households!
    : [{ householdId: input.householdId!, quantity: input.quantity }];
  const pathOf = (i: number, f: string) => (batch ? `households.${i}.${f}` : f);
  const errors: FieldError[] = [];
  const seen = new Set<string>();
  for (const [i, w] of wanted.entries()) {
    if (seen.has(w.householdId))
      errors.push({ path: pathOf(i, 'householdId'), message: 'listed twice' });
    seen.add(w.householdId);
  }
  if (errors.length) throw invalid(errors);
  return { batch, wanted, pathOf };
}

/** Step 1, validate: the village is in reach, its households are its own, the date in its window. */
async function checkFiling(p: Principal, input: NewSubmission): Promise<CheckedFiling> {
  if (!villageInReach(p, input.villageId)) throw notFound('village');
  const village = await findVillage(input.villageId);
  if (!village) throw notFound('village');
  const checked = checkShape(input);
  const { wanted, pathOf } = checked;
  const errors: FieldError[] = [];
  const households = await Promise.all(wanted.map((w) => findHousehold(w.householdId)));
  households.forEach((h, i) => {
    if (!h || h.villageId !== input.villageId)
      errors.push({ path: pathOf(i, 'householdId'), message: 'not a household of this village' });
  });
  const occurredOnProblem = occurredOnOutsideWindow(
    input.occurredOn,
    village.policy.occurredOnWindowDays ?? DEFAULT_OCCURRED_ON_WINDOW_DAYS,
  );
  if (occurredOnProblem) errors.push({ path: 'occurredOn', message: occurredOnProblem });
  if (errors.length) throw invalid(errors);
  return checked;
}

/** Step 2, resolve the rule: the version in force on `occurredOn`, and what each line asks for. */
async function resolveFilingRule(
  input: NewSubmission,
  { batch, wanted, pathOf }: CheckedFiling,
): Promise<{ rule: EffectiveRule; requested: number[] }> {
  const rule = await resolveRule(input.villageId, input.ruleCode, input.occurredOn);
  if (!rule) throw invalid([{ path: 'ruleCode', message: 'no such rule' }]);
  if (!rule.inForce)
    throw invalid([
      {
        path: 'ruleCode',
        message: `rule ${rule.code} is not in force in this village on ${input.occurredOn}`,
      },
    ]);
  if (batch && rule.kind !== 'award')
    throw invalid([
      {
        path: 'households',
        message: 'a batch is for one activity of many households: awards only',
      },
    ]);
  if (rule.attachmentRequired && !input.evidence.attachments?.length) {
    throw invalid([
      {
        path: 'evidence.attachments',
        message: `rule ${rule.code} requires at least one attachment`,
      },
    ]);
  }
  const requested = wanted.map((w, i) => scorePoints(rule, w.quantity, pathOf(i, 'quantity')));
  const errors: FieldError[] = [];
  requested.forEach((r, i) => {
    if (r <= 0)
      errors.push({ path: pathOf(i, 'quantity'), message: 'gives no points under this rule' });
  });
  if (errors.length) throw invalid(errors);
  return { rule, requested };
}

/** Claims the caps for one household line (S4): what will post is what the caps grant. */
export async function claimLine(
  submissionId: string,
  rule: EffectiveRule,
  occurredOn: string,
  wanted: WantedLine,
  requested: number,
): Promise<SubmissionLine> {
  const cap = await claimCap({
    submissionId,
    householdId: wanted.householdId,
    ruleCode: rule.code,
    occurredOn,
    requested,
    capPerMonth: rule.capPerMonth,
    capPerYear: rule.capPerYear,
  });
  const line: SubmissionLine = {
    householdId: wanted.householdId,
    requestedPoints: requested,
    points: cap.granted,
  };
  if (wanted.quantity !== undefined) line.quantity = wanted.quantity;
  if (cap.limitedBy) Object.assign(line, { capLimitedBy: cap.limitedBy, cap: cap.cap });
  return line;
}

/** Step 3, claim the caps: every line's, refusing the filing when no line gets any points. */
async function claimLines(
  id: string,
  rule: EffectiveRule,
  occurredOn: string,
  wanted: WantedLine[],
  requested: number[],
): Promise<SubmissionLine[]> {
  const lines: SubmissionLine[] = [];
  for (const [i, w] of wanted.entries())
    lines.push(await claimLine(id, rule, occurredOn, w, requested[i]!));
  councilFaults.afterCapClaims?.(id);
  if (lines.every((l) => l.points === 0)) {
    const l = lines[0]!;
    for (const line of lines) await releaseCap(id, line.householdId);
    throw new DomainError(
      'cap_reached',
      `The ${l.capLimitedBy === 'month' ? 'monthly' : 'yearly'} cap of rule ${rule.code} is used up for this household.`,
      {
        limitedBy: l.capLimitedBy,
        cap: l.cap,
      },
    );
  }
  return lines;
}

/** A submission as stored at filing: in review, round 1, its cache derived from no votes yet. */
export function submissionRecord(f: {
  _id: Types.ObjectId;
  villageId: string;
  batch: boolean;
  lines: SubmissionLine[];
  rule: EffectiveRule;
  occurredOn: string;
  evidence: { text: string; attachments: string[] };
  createdBy: string;
}): Record<string, unknown> {
  const doc: Record<string, unknown> = {
    _id: f._id,
    villageId: f.villageId,
    batch: f.batch,
    householdIds: f.lines.map((l) => l.householdId),
    lines: f.lines,
    ruleCode: f.rule.code,
    ruleVersion: f.rule.version,
    ruleTitle: f.rule.title,
    kind: f.rule.kind,
    occurredOn: f.occurredOn,
    evidence: f.evidence,
    capsApply: capsApplyTo(f.rule),
    createdBy: f.createdBy,
    status: 'in_review',
    round: 1,
    approvals: 0,
    rejections: 0,
  };
  if (f.rule.overrideVersion !== undefined) doc.overrideVersion = f.rule.overrideVersion;
  return doc;
}

/** A deduction is announced to the household as soon as it is filed, before any vote. */
async function notifyDeductionFiled(sub: SubmissionDoc): Promise<void> {
  if (sub.kind !== 'deduction') return;
  const id = sub._id.toHexString();
  const line = sub.lines[0]!;
  await queueNotification({
    key: `deduction-filed-${id}`,
    householdId: line.householdId,
    villageId: sub.villageId,
    submissionId: id,
    kind: 'deduction_filed',
    title: `扣分事项告知：${sub.ruleTitle}`,
    body: `您户有一项扣分事项“${sub.ruleTitle}”（${sub.occurredOn}，拟扣${line.points}分）已提交村道德评议会评议。评议通过后将公示，公示期间可提出异议。`,
  });
}

/**
 * Files a submission (clerk of the village). Everything is validated before anything is
 * written; caps are claimed under a guard so a crash between the claim and the filing gives the
 * claim back. A single submission whose cap is used up is refused with `cap_reached`.
 */
export async function fileSubmission(
  p: Principal,
  input: NewSubmission,
  deps: CouncilDeps = {},
): Promise<SubmissionView> {
  const checked = await checkFiling(p, input);
  const { rule, requested } = await resolveFilingRule(input, checked);
  const submissionId = new Types.ObjectId();
  const id = submissionId.toHexString();
  // The guard is there to give back cap claims if the filing dies halfway; without caps a
  // filing is one insert (plus its `filed` event, which reconcile adds if missing).
  const guard = capsApplyTo(rule) ? guarded : <T>(_id: string, fn: () => Promise<T>) => fn();
  return guard(id, async () => {
    const lines = await claimLines(id, rule, input.occurredOn, checked.wanted, requested);
    // Step 4, insert: the submission, then its `filed` event.
    const now = clock.now();
    const record = submissionRecord({
      _id: submissionId,
      villageId: input.villageId,
      batch: checked.batch,
      lines,
      rule,
      occurredOn: input.occurredOn,
      evidence: { text: input.evidence.text, attachments: input.evidence.attachments ?? [] },
      createdBy: p.id,
    });
    const [created] = await Submission.create([record]);
    await insertEvent(id, { slot: slots.filed, type: 'filed', by: p.id, byRole: p.role, at: now });
    const sub = created!.toObject() as SubmissionDoc;
    await notifyDeductionFiled(sub);
    deps.log?.info(
      {
        submissionId: id,
        ruleCode: rule.code,
        points: sign(rule.kind) * lines.reduce((a, l) => a + l.points, 0),
      },
      'submission filed',
    );
    return toView(sub);
  });
}
