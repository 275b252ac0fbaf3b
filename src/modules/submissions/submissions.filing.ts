/**
 * Filing: a clerk's submission (rule, points and caps fixed at filing), and the filings the
 * system makes on its own.
 * Part of the council workflow (submissions.service.ts re-exports its verbs).
 */

import { Types } from 'mongoose';
import { addDays, clock, durationMs, shanghaiDate } from '../../platform/clock';
import { DomainError, isDuplicateKeyError, notFound, type FieldError } from '../../platform/errors';
import { type Principal } from '../../platform/principal';
import { findHousehold } from '../households/households.service';
import { queueNotification } from '../notifications/notifications.service';
import { claimCap, releaseCap, resolveRule, scorePoints } from '../rules/rules.service';
import {
  DEFAULT_OCCURRED_ON_WINDOW_DAYS,
  DEFAULT_POLICY,
  findVillage,
} from '../villages/villages.service';
import { noticeId, slots } from './submission-state';
import {
  Submission,
  SubmissionFilingKey,
  type FilingKeyDoc,
  type SubmissionDoc,
  type SubmissionLine,
} from './submissions.model';
import { CouncilDeps } from './submissions.deps';
import { councilFaults } from '../../platform/faults';
import { SubmissionView, sign, toView } from './submissions.views';
import { findSubmission, insertEvent, guarded, ensureWakeup } from './submissions.store';
import { reconcileSubmission } from './submissions.reconcile';
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
  if (!villageInReach(p, input.villageId)) throw notFound('village');
  const village = await findVillage(input.villageId);
  if (!village) throw notFound('village');

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
  requested.forEach((r, i) => {
    if (r <= 0)
      errors.push({ path: pathOf(i, 'quantity'), message: 'gives no points under this rule' });
  });
  if (errors.length) throw invalid(errors);

  const submissionId = new Types.ObjectId();
  const id = submissionId.toHexString();
  const capsApply = rule.capPerMonth !== undefined || rule.capPerYear !== undefined;
  // The guard is there to give back cap claims if the filing dies halfway; without caps a
  // filing is one insert (plus its `filed` event, which reconcile adds if missing).
  const guard = capsApply ? guarded : <T>(_id: string, fn: () => Promise<T>) => fn();
  return guard(id, async () => {
    const lines: SubmissionLine[] = [];
    for (const [i, w] of wanted.entries()) {
      const cap = await claimCap({
        submissionId: id,
        householdId: w.householdId,
        ruleCode: rule.code,
        occurredOn: input.occurredOn,
        requested: requested[i]!,
        capPerMonth: rule.capPerMonth,
        capPerYear: rule.capPerYear,
      });
      const line: SubmissionLine = {
        householdId: w.householdId,
        requestedPoints: requested[i]!,
        points: cap.granted,
      };
      if (w.quantity !== undefined) line.quantity = w.quantity;
      if (cap.limitedBy) Object.assign(line, { capLimitedBy: cap.limitedBy, cap: cap.cap });
      lines.push(line);
    }
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
    const now = clock.now();
    const doc: Record<string, unknown> = {
      _id: submissionId,
      villageId: input.villageId,
      batch,
      householdIds: lines.map((l) => l.householdId),
      lines,
      ruleCode: rule.code,
      ruleVersion: rule.version,
      ruleTitle: rule.title,
      kind: rule.kind,
      occurredOn: input.occurredOn,
      evidence: { text: input.evidence.text, attachments: input.evidence.attachments ?? [] },
      capsApply,
      createdBy: p.id,
      status: 'in_review',
      round: 1,
      approvals: 0,
      rejections: 0,
    };
    if (rule.overrideVersion !== undefined) doc.overrideVersion = rule.overrideVersion;
    const [created] = await Submission.create([doc]);
    await insertEvent(id, { slot: slots.filed, type: 'filed', by: p.id, byRole: p.role, at: now });
    const sub = created!.toObject() as SubmissionDoc;
    if (rule.kind === 'deduction') {
      const line = lines[0]!;
      await queueNotification({
        key: `deduction-filed-${id}`,
        householdId: line.householdId,
        villageId: input.villageId,
        submissionId: id,
        kind: 'deduction_filed',
        title: `扣分事项告知：${rule.title}`,
        body: `您户有一项扣分事项“${rule.title}”（${input.occurredOn}，拟扣${line.points}分）已提交村道德评议会评议。评议通过后将公示，公示期间可提出异议。`,
      });
    }
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

// ---------------------------------------------------------------------------------------------
// Filings the system makes on its own: hours of a rated service order, a volunteer's milestone

/** Who a system filing is recorded as (`createdBy`) in the submission's history. */
export const SYSTEM_FILER = 'system';

export interface KeyedFiling {
  /** Exactly one submission is ever filed per key (e.g. `service-order:<orderId>:<volunteerId>`). */
  key: string;
  villageId: string;
  householdId: string;
  ruleCode: string;
  /** Units for a rate rule (hours); ignored for a fixed-points rule. */
  quantity?: number;
  occurredOn: string;
  evidenceText: string;
  serviceOrderId?: string;
  volunteerId?: string;
  milestoneHours?: number;
  /** The village policy lets it skip the council vote: it goes straight to public notice. */
  skipVote: boolean;
}

/** Why a system filing filed nothing (recorded by the caller; the points simply do not arise). */
export type FilingSkip = 'no_rule' | 'no_points' | 'cap_reached' | 'household_not_in_village';

export type KeyedFilingResult = { submission: SubmissionView } | { skipped: FilingSkip };

/** The submission id a key stands for: the first attempt's choice, found again by every retry. */
async function claimFilingKey(key: string): Promise<string> {
  const submissionId = new Types.ObjectId().toHexString();
  try {
    await SubmissionFilingKey.create([{ _id: key, submissionId, createdAt: clock.now() }]);
    return submissionId;
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
    return (await SubmissionFilingKey.findById(key).lean<FilingKeyDoc>())!.submissionId;
  }
}

/** Opens the public notice of round 1 directly (village policy: no vote for rated hours). */
async function openNoticeWithoutVote(
  submissionId: string,
  noticePeriod: string,
  deps: CouncilDeps,
): Promise<void> {
  const noticeEndsAt = new Date(clock.now().getTime() + durationMs(noticePeriod));
  // The wake-up first, as in reconcile: if we crash after the decision, the sweeper ends the notice.
  await ensureWakeup({
    _id: noticeId(submissionId, 1),
    submissionId,
    kind: 'notice',
    round: 1,
    at: noticeEndsAt,
  });
  const won = await insertEvent(submissionId, {
    slot: slots.decision(1),
    type: 'notice_started',
    round: 1,
    noticeEndsAt,
    by: SYSTEM_FILER,
    byRole: 'system',
    comment: '按本村规定，评单确认的志愿服务时长免于评议，直接公示',
  });
  if (won && deps.enqueuePost) {
    await deps.enqueuePost(submissionId, 1, noticeEndsAt).catch((err: unknown) => {
      deps.log?.warn(
        { err: (err as Error).message, submissionId },
        'could not enqueue the notice job; the sweeper will post it',
      );
    });
  }
}

/**
 * Files one award for the system, exactly once per `key`: the key's record names the submission
 * id, so a retry (after a crash anywhere in here) or a concurrent call finishes the same
 * submission instead of filing a second. It scores by the rule version in force on
 * `occurredOn` in the village, claims the caps like any filing, and then follows the council
 * flow, or goes straight to public notice when `skipVote`. A case where no points arise (no such
 * rule in force, a cap used up, a household that left the village) files nothing and says why.
 *
 * No guard wake-up is written: the caller retries until it has recorded the result (the service
 * order's reconcile does), and a guard's sweep would release cap claims that the retry, under
 * the same submission id, still relies on.
 */
export async function fileKeyedSubmission(
  input: KeyedFiling,
  deps: CouncilDeps = {},
): Promise<KeyedFilingResult> {
  const submissionId = await claimFilingKey(input.key);
  if (await findSubmission(submissionId)) {
    const r = (await reconcileSubmission(submissionId, deps))!;
    return { submission: toView(r.sub, r) };
  }
  const [village, household] = await Promise.all([
    findVillage(input.villageId),
    findHousehold(input.householdId),
  ]);
  if (!village || !household || household.villageId !== input.villageId)
    return { skipped: 'household_not_in_village' };
  const rule = await resolveRule(input.villageId, input.ruleCode, input.occurredOn);
  if (!rule || !rule.inForce || rule.kind !== 'award') return { skipped: 'no_rule' };
  const quantity = rule.pointsPerUnit !== undefined ? input.quantity : undefined;
  const requested = scorePoints(rule, quantity);
  if (requested <= 0) return { skipped: 'no_points' };
  const capsApply = rule.capPerMonth !== undefined || rule.capPerYear !== undefined;
  const cap = await claimCap({
    submissionId,
    householdId: input.householdId,
    ruleCode: rule.code,
    occurredOn: input.occurredOn,
    requested,
    capPerMonth: rule.capPerMonth,
    capPerYear: rule.capPerYear,
  });
  if (cap.granted === 0) return { skipped: 'cap_reached' };
  const line: SubmissionLine = {
    householdId: input.householdId,
    requestedPoints: requested,
    points: cap.granted,
  };
  if (quantity !== undefined) line.quantity = quantity;
  if (cap.limitedBy) Object.assign(line, { capLimitedBy: cap.limitedBy, cap: cap.cap });
  const doc: Record<string, unknown> = {
    _id: new Types.ObjectId(submissionId),
    villageId: input.villageId,
    batch: false,
    householdIds: [input.householdId],
    lines: [line],
    ruleCode: rule.code,
    ruleVersion: rule.version,
    ruleTitle: rule.title,
    kind: rule.kind,
    occurredOn: input.occurredOn,
    evidence: { text: input.evidenceText, attachments: [] },
    capsApply,
    createdBy: SYSTEM_FILER,
    status: 'in_review',
    round: 1,
    approvals: 0,
    rejections: 0,
  };
  if (rule.overrideVersion !== undefined) doc.overrideVersion = rule.overrideVersion;
  for (const k of ['serviceOrderId', 'volunteerId', 'milestoneHours'] as const)
    if (input[k] !== undefined) doc[k] = input[k];
  try {
    await Submission.create([doc]);
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err; // a concurrent attempt stored it first
  }
  await insertEvent(submissionId, {
    slot: slots.filed,
    type: 'filed',
    by: SYSTEM_FILER,
    byRole: 'system',
  });
  if (input.skipVote)
    await openNoticeWithoutVote(
      submissionId,
      (village.policy ?? DEFAULT_POLICY).noticePeriod,
      deps,
    );
  const r = (await reconcileSubmission(submissionId, deps))!;
  deps.log?.info({ submissionId, key: input.key, points: cap.granted }, 'system submission filed');
  return { submission: toView(r.sub, r) };
}
