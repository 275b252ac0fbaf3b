/**
 * The council workflow: a clerk files a submission (an award or a deduction under a rule), the
 * village council votes, a quorum of approvals opens the public notice (公示), an objection sends
 * it back to a new review round, and when the notice ends unopposed the points post to the
 * ledger. A posted deduction may be appealed within 30 days; an upheld appeal is reversed by a
 * new entry.
 *
 * The steps live in their own files (deps, views, store, reconcile, reach, filing, system-filing,
 * council, notice); this file is the module's public face and re-exports their verbs.
 *
 * Invariants:
 * - S1 a submission posts at most one ledger entry per household line (the ledger's unique
 *   source: the submission id, or `<id>:<householdId>` for a batch line) and at least one once
 *   its notice ended without objection (the delayed job, else the sweeper over wake-ups).
 * - S2 every vote and state change is an append-only event; each decision point has one slot
 *   (unique (submissionId, slot)), so one vote per member per round, one decision per round,
 *   one close per notice (an objection and the posting cannot both win), one appeal and one
 *   appeal decision.
 * - S3 a council member never votes on their own household's submission.
 * - S4 points are fixed at filing (rule version in force on occurredOn, caps applied); a later
 *   rule version never changes them.
 * - S5 every multi-step change first writes a wake-up; a step interrupted by a crash is
 *   finished by the sweeper (reconcile is idempotent), and only then is the wake-up deleted.
 * - S6 a deed's `occurredOn` lies within the village policy's window (Asia/Shanghai days).
 * - S7 a household reads its own submissions; of its neighbours' only those in public notice or
 *   posted, without attachments, appeal or who voted and objected (counts only).
 */
export {
  APPEAL_WINDOW_MS,
  GUARD_MS,
  BATCH_LINES_MAX,
  SWEEP_BATCH,
  type EnqueuePost,
  type CouncilDeps,
} from './submissions.deps';
export {
  type LineView,
  type CappedView,
  type AppealView,
  type HistoryItem,
  type SubmissionView,
} from './submissions.views';
export { eventId } from './submissions.store';
export { reconcileSubmission, type Reconciled } from './submissions.reconcile';
export { fileSubmission, type NewSubmission } from './submissions.filing';
export {
  SYSTEM_FILER,
  fileKeyedSubmission,
  type KeyedFiling,
  type FilingSkip,
  type KeyedFilingResult,
} from './submissions.system-filing';
export {
  getSubmission,
  castVote,
  fileObjection,
  fileAppeal,
  mayDecideAppeal,
  decideAppeal,
  listSubmissions,
  listAppeals,
  type ObjectionView,
  type ListQuery,
} from './submissions.council';
export {
  NoticeNotOverError,
  endNotice,
  sweepDue,
  countOverdueWakeups,
  listPostedLines,
  listPostedLinesBetween,
  type PostedLine,
} from './submissions.notice';
