/**
 * An officer's disclosure of one household's credit reference (a look-up or a trend). Carries two
 * invariants of credit.service.ts: an officer reads only households of their cooperative's
 * service area with a consent to their cooperative valid now; and every such call is recorded as
 * an inquiry before any answer leaves, refused calls included (no record, no answer).
 */
import { clock } from '../../platform/clock';
import { DomainError, notFound, validationError } from '../../platform/errors';
import type { Logger } from '../../platform/logger';
import type { Metrics } from '../../platform/metrics';
import type { Principal } from '../../platform/principal';
import { codePointLength, cutText } from '../../platform/text';
import { findCooperative } from '../cooperatives/cooperatives.service';
import type { HouseholdDoc } from '../households/households.model';
import { recordInquiry } from '../inquiries/inquiries.service';
import type { LookupLimits } from './credit.limits';
import { validConsent } from './consents.service';

/** Longest purpose an officer may state. */
export const PURPOSE_LENGTH_MAX = 200;

export interface DisclosureDeps {
  limits: LookupLimits;
  metrics: Metrics;
}

/** What the officer says the disclosure is for, and what the inquiry adds to it (a trend's months). */
export interface DisclosurePurpose {
  purpose: string | undefined;
  label: string;
}

/** Refuses a disclosure without a stated purpose, outside the officer's area or without consent. */
async function checkDisclosure(p: Principal, household: HouseholdDoc, purpose: string) {
  if (!purpose)
    throw validationError([
      { path: 'query.purpose', message: 'an officer states the purpose of every look-up' },
    ]);
  if (codePointLength(purpose) > PURPOSE_LENGTH_MAX)
    throw validationError([
      {
        path: 'query.purpose',
        message: `at most ${PURPOSE_LENGTH_MAX} characters (Unicode code points)`,
      },
    ]);
  const cooperative = p.cooperativeId ? await findCooperative(p.cooperativeId) : undefined;
  if (!cooperative || !cooperative.villageIds.includes(household.villageId))
    throw notFound('household');
  if (
    !(await validConsent(household._id.toHexString(), cooperative._id.toHexString(), clock.now()))
  ) {
    throw new DomainError(
      'consent_required',
      'This household has not given your cooperative a valid consent to look up its credit reference.',
    );
  }
}

/**
 * An officer's disclosure of one household: purpose, rate limit, area and consent checked, and
 * recorded as an inquiry whatever the outcome (no record, no answer).
 */
export async function discloseToOfficer<T>(
  deps: DisclosureDeps,
  p: Principal,
  household: HouseholdDoc,
  stated: DisclosurePurpose,
  log: Logger,
  compute: () => Promise<T>,
): Promise<T> {
  const householdId = household._id.toHexString();
  const purpose = (stated.purpose ?? '').trim();
  const record = async (result: string) => {
    deps.metrics.creditLookups.inc({ result });
    const said = purpose ? cutText(purpose, PURPOSE_LENGTH_MAX) : '（未说明）';
    await recordInquiry({
      householdId,
      officerId: p.id,
      cooperativeId: p.cooperativeId ?? '',
      purpose: stated.label ? `${said}${stated.label}` : said,
      result,
      at: clock.now(),
    });
  };
  let view: T;
  try {
    await deps.limits.consume(p.id);
    await checkDisclosure(p, household, purpose);
    // Validate and compute before recording `ok`; a refused query is recorded as refused.
    view = await compute();
    await record('ok');
  } catch (err) {
    // A refused or failed call is still a call on this household. If even the record cannot
    // be written, the original error is what the caller gets.
    await record(err instanceof DomainError ? err.code : 'internal_error').catch(
      (recordErr: unknown) =>
        log.error({ err: recordErr }, 'could not record a refused credit inquiry'),
    );
    throw err;
  }
  // The daily watch is monitoring: if Redis fails here the answer, already recorded, still goes out.
  await deps.limits
    .noteHousehold({ id: p.id, cooperativeId: p.cooperativeId ?? '' }, householdId, log)
    .catch((err: unknown) => log.error({ err }, 'could not count the look-up for the daily watch'));
  return view;
}
