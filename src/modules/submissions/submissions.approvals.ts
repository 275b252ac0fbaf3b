/**
 * Who approved what: council members' approvals of a village's awards, for the supervisors'
 * concentration report (人情分). A report-sized read: the village's submissions (a scan on
 * FerretDB-SQLite), then each candidate vote by its primary key `<submissionId>:r<n>-vote-<memberId>`
 * (no scan of the events collection, which holds every village's votes).
 */
import {
  Submission,
  SubmissionEvent,
  type SubmissionDoc,
  type SubmissionEventDoc,
} from './submissions.model';
import { eventId } from './submissions.service';
import { slots } from './submission-state';

/** Submissions of one village read for a report. */
const REPORT_SUBMISSIONS_MAX = 50_000;
/** Vote look-ups in flight at once. */
const PROBE_CONCURRENCY = 16;

export interface AwardApproval {
  submissionId: string;
  /** One row per household line of the award (a batch award approves each of its households). */
  householdId: string;
  memberId: string;
  occurredOn: string;
}

/**
 * Each council member's approval of each award of the village whose deed date lies in
 * [from, to] (YYYY-MM-DD, inclusive), counted once per member and submission whatever the
 * number of review rounds. Rejected awards count too: the approval is the member's act.
 */
export async function listAwardApprovals(
  villageId: string,
  from: string,
  to: string,
  memberIds: readonly string[],
): Promise<AwardApproval[]> {
  const subs = (
    await Submission.find({ villageId }).limit(REPORT_SUBMISSIONS_MAX).lean<SubmissionDoc[]>()
  ).filter((s) => s.kind === 'award' && s.occurredOn >= from && s.occurredOn <= to);
  const probes: { sub: SubmissionDoc; memberId: string; id: string }[] = [];
  for (const sub of subs) {
    for (let round = 1; round <= sub.round; round++) {
      for (const memberId of memberIds)
        probes.push({
          sub,
          memberId,
          id: eventId(sub._id.toHexString(), slots.vote(round, memberId)),
        });
    }
  }
  const approved = new Set<string>();
  const out: AwardApproval[] = [];
  for (let i = 0; i < probes.length; i += PROBE_CONCURRENCY) {
    const batch = probes.slice(i, i + PROBE_CONCURRENCY);
    const votes = await Promise.all(
      batch.map((p) => SubmissionEvent.findById(p.id).lean<SubmissionEventDoc>()),
    );
    batch.forEach((p, j) => {
      const submissionId = p.sub._id.toHexString();
      const key = `${submissionId}:${p.memberId}`;
      if (votes[j]?.decision !== 'approve' || approved.has(key)) return;
      approved.add(key);
      for (const householdId of p.sub.householdIds)
        out.push({ submissionId, householdId, memberId: p.memberId, occurredOn: p.sub.occurredOn });
    });
  }
  return out;
}
