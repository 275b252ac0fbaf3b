/**
 * Filings the system makes on its own: hours of a rated service order, a volunteer's milestone.
 * Exactly one submission per key; the steps are a clerk's filing's (submissions.filing.ts)
 * without the request checks: a case where no points arise files nothing and says why.
 * Part of the council workflow (submissions.service.ts re-exports its verbs).
 */

import { Types } from 'mongoose';
import { clock, durationMs } from '../../platform/clock';
import { isDuplicateKeyError } from '../../platform/errors';
import { findHousehold } from '../households/households.service';
import { resolveRule, scorePoints, type EffectiveRule } from '../rules/rules.service';
import { DEFAULT_POLICY, findVillage } from '../villages/villages.service';
import { slots } from './submission-state';
import { Submission, SubmissionFilingKey, type FilingKeyDoc } from './submissions.model';
import { CouncilDeps } from './submissions.deps';
import { SubmissionView, toView } from './submissions.views';
import { findSubmission, insertEvent } from './submissions.store';
import { openNotice, reconcileSubmission } from './submissions.reconcile';
import { claimLine, submissionRecord } from './submissions.filing';

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
  await openNotice(
    submissionId,
    {
      round: 1,
      noticeEndsAt: new Date(clock.now().getTime() + durationMs(noticePeriod)),
      by: SYSTEM_FILER,
      byRole: 'system',
      comment: '按本村规定，评单确认的志愿服务时长免于评议，直接公示',
    },
    deps,
  );
}

/** The award the key's filing is for, or why none arises (household, rule or points). */
async function resolveKeyedRule(
  input: KeyedFiling,
): Promise<
  | { skipped: FilingSkip }
  | { rule: EffectiveRule; noticePeriod: string; quantity?: number; requested: number }
> {
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
  const noticePeriod = (village.policy ?? DEFAULT_POLICY).noticePeriod;
  return { rule, noticePeriod, quantity, requested };
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
  const resolved = await resolveKeyedRule(input);
  if ('skipped' in resolved) return resolved;
  const { rule, quantity, requested } = resolved;
  const wanted = { householdId: input.householdId, quantity };
  const line = await claimLine(submissionId, rule, input.occurredOn, wanted, requested);
  if (line.points === 0) return { skipped: 'cap_reached' };
  const doc = submissionRecord({
    _id: new Types.ObjectId(submissionId),
    villageId: input.villageId,
    batch: false,
    lines: [line],
    rule,
    occurredOn: input.occurredOn,
    evidence: { text: input.evidenceText, attachments: [] },
    createdBy: SYSTEM_FILER,
  });
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
  if (input.skipVote) await openNoticeWithoutVote(submissionId, resolved.noticePeriod, deps);
  const r = (await reconcileSubmission(submissionId, deps))!;
  deps.log?.info({ submissionId, key: input.key, points: line.points }, 'system submission filed');
  return { submission: toView(r.sub, r) };
}
