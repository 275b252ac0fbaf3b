/**
 * What a date or an instant in a credit request means: a consent's expiry, a look-up's or an
 * export's `asOf`. An `asOf` is never used before it is settled (the invariant of
 * credit.service.ts): a recent one is waited for.
 */
import { validationError } from '../../platform/errors';
import { SETTLE_MS, settledBefore } from './credit.inputs';

/** Earliest asOf accepted (before any deployment; guards against typos such as 0202). */
const AS_OF_MIN = Date.parse('2000-01-01T00:00:00Z');

/**
 * What a calendar date means as an instant. A consent's expiry date is its start (00:00 UTC, as
 * before); an `asOf` date is the END of that day in China Standard Time (23:59:59.999 +08:00,
 * i.e. 15:59:59.999 UTC), the day as the village and the cooperative count it.
 */
export type DateMeaning = 'startUtc' | 'endOfDayChina';
/** China Standard Time (Asia/Shanghai) has been UTC+8 without daylight saving since 1991. */
const CHINA_OFFSET = '+08:00';

/** Parses a date (YYYY-MM-DD, see DateMeaning) or an ISO-8601 instant with a zone. */
export function parseInstant(raw: string, path: string, dateMeans: DateMeaning = 'startUtc'): Date {
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(raw);
  const m = /^(\d{4}-\d{2}-\d{2})T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/.exec(raw);
  const dateMs = () =>
    Date.parse(
      dateMeans === 'startUtc' ? `${raw}T00:00:00Z` : `${raw}T23:59:59.999${CHINA_OFFSET}`,
    );
  const ms = dateOnly ? dateMs() : m ? Date.parse(raw) : NaN;
  const day = dateOnly ? raw : m?.[1];
  // Date.parse rolls 2026-02-30 over into March; a calendar date must read back the same.
  if (
    Number.isNaN(ms) ||
    !day ||
    Number.isNaN(Date.parse(`${day}T00:00:00Z`)) ||
    new Date(`${day}T00:00:00Z`).toISOString().slice(0, 10) !== day
  ) {
    throw validationError([
      { path, message: 'must be a date (YYYY-MM-DD) or an ISO-8601 time with a zone' },
    ]);
  }
  return new Date(ms);
}

/**
 * Parses `asOf` (a date means the end of that day in China Standard Time); absent: the latest
 * settled instant. An asOf in the future is refused; one in the last SETTLE_MS (not settled yet:
 * an entry stamped just before it may not be visible yet) is waited for, at most SETTLE_MS, so
 * that `asOf=now` answers as of now instead of failing.
 */
export async function parseAsOf(raw: string | undefined, path = 'asOf'): Promise<Date> {
  if (raw === undefined) return settledBefore();
  const at = parseInstant(raw, path, 'endOfDayChina');
  if (at.getTime() < AS_OF_MIN)
    throw validationError([{ path, message: 'must be 2000-01-01 or later' }]);
  if (at.getTime() > Date.now()) {
    throw validationError([
      {
        path,
        message: 'must not lie in the future (a date means the end of that day, Beijing time)',
      },
    ]);
  }
  const waitMs = at.getTime() - settledBefore().getTime();
  if (waitMs > 0) await sleep(Math.min(waitMs, SETTLE_MS));
  return at;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
