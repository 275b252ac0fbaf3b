/**
 * The service's clock. Everything that decides by time (a notice period ending, an appeal
 * window closing, a rule version coming into force) reads `clock.now()`, so a test can move
 * time forward without sleeping. Production code never assigns it.
 */
export const clock: { now: () => Date } = { now: () => new Date() };

/** The UTC calendar date (YYYY-MM-DD) of an instant; the API's dates are UTC like its times. */
export function utcDate(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/** Today's UTC date by the service clock. */
export function todayUtc(): string {
  return utcDate(clock.now());
}

/** Asia/Shanghai (China Standard Time) is UTC+8 all year, with no daylight saving. */
const SHANGHAI_OFFSET_MS = 8 * 3600_000;

/** The calendar date (YYYY-MM-DD) of an instant in Asia/Shanghai: the villages' day. */
export function shanghaiDate(at: Date): string {
  return new Date(at.getTime() + SHANGHAI_OFFSET_MS).toISOString().slice(0, 10);
}

/** The calendar date `days` after (negative: before) a date YYYY-MM-DD. */
export function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}

/** True when `s` is a real calendar date written YYYY-MM-DD. */
export function isCalendarDate(s: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return false;
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}

const DURATION_RE = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/;

/** Milliseconds of an ISO-8601 duration of days, hours, minutes and seconds (P7D, PT0S). */
export function durationMs(iso: string): number {
  const m = DURATION_RE.exec(iso);
  if (!m || iso === 'P' || iso.endsWith('T'))
    throw new Error(`not a supported ISO-8601 duration: ${iso}`);
  const [d, h, min, s] = [m[1], m[2], m[3], m[4]].map((x) => Number(x ?? 0)) as [
    number,
    number,
    number,
    number,
  ];
  return (((d * 24 + h) * 60 + min) * 60 + s) * 1000;
}
