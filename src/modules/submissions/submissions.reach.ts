/**
 * Reach: who reads how much of a submission (S7), and loading one in reach with its current state.
 * Part of the council workflow (submissions.service.ts re-exports its verbs).
 */

import assert from 'node:assert/strict';
import { notFound } from '../../platform/errors';
import { reachesVillage, type Principal } from '../../platform/principal';
import { type SubmissionDoc } from './submissions.model';
import { CouncilDeps } from './submissions.deps';
import { SubmissionView } from './submissions.views';
import { findSubmission } from './submissions.store';
import { Reconciled, reconcileSubmission } from './submissions.reconcile';

export function villageInReach(p: Principal, villageId: string): boolean {
  return reachesVillage(p, villageId);
}

/** Statuses in which a household reads a neighbour's submission: the public notice is public. */
export const PUBLIC_STATUSES: readonly string[] = ['in_notice', 'posted'];

/**
 * S7: how much of a submission a principal reads. Village officials (clerk, council) and the
 * county office read everything; a household reads its own submissions whole, and a
 * neighbour's only in public notice or posted, as `public` (see publicView); else nothing.
 */
export function readingOf(
  p: Principal,
  sub: Pick<SubmissionDoc, 'householdIds'>,
  status: string,
): 'whole' | 'public' | 'none' {
  if (p.role !== 'household') return 'whole';
  if (p.householdId && sub.householdIds.includes(p.householdId)) return 'whole';
  return PUBLIC_STATUSES.includes(status) ? 'public' : 'none';
}

/**
 * What a neighbour reads of a submission in public notice: the deed, the points and the
 * household concerned, and how many approved and rejected; never the attachments (photos,
 * documents about a family), the appeal, or who voted, commented or objected.
 */
export function publicView(v: SubmissionView): SubmissionView {
  const out: SubmissionView = { ...v, evidence: { text: v.evidence.text, attachments: [] } };
  if (v.appeal !== undefined) out.appeal = null;
  if (v.history)
    out.history = v.history
      .filter((h) => h.type !== 'vote')
      .map((h) => ({
        type: h.type,
        at: h.at,
        ...(h.round !== undefined ? { round: h.round } : {}),
      }));
  return out;
}

/** A view shaped for its reader (S7); `none` is 404, so a neighbour's case under review is not revealed. */
export function viewFor(p: Principal, sub: SubmissionDoc, v: SubmissionView): SubmissionView {
  const reading = readingOf(p, sub, v.status);
  if (reading === 'none') throw notFound('submission');
  return reading === 'public' ? publicView(v) : v;
}

/**
 * Loads a submission the principal may see (admin, or anyone of its village; a household a
 * neighbour's only in notice or posted, by the cached status), else 404.
 */
export async function submissionInReach(p: Principal, id: string): Promise<SubmissionDoc> {
  const sub = await findSubmission(id);
  if (!sub || !villageInReach(p, sub.villageId) || readingOf(p, sub, sub.status) === 'none')
    throw notFound('submission');
  return sub;
}

export async function currentState(
  sub: SubmissionDoc,
  deps: CouncilDeps = {},
): Promise<Reconciled> {
  const r = await reconcileSubmission(sub._id.toHexString(), deps);
  assert.ok(r, 'a submission that was just read exists');
  return r;
}
