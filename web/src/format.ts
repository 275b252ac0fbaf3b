/** Dates and numbers as villagers read them: Beijing time (UTC+8), whole points. */
const CST_MS = 8 * 3_600_000;

export function beijing(iso: string | null | undefined, withTime = true): string {
  if (!iso) return '';
  const d = new Date(new Date(iso).getTime() + CST_MS).toISOString();
  return withTime ? `${d.slice(0, 10)} ${d.slice(11, 16)}` : d.slice(0, 10);
}

/** Today's date in Beijing (YYYY-MM-DD). */
export function todayCst(): string {
  return new Date(Date.now() + CST_MS).toISOString().slice(0, 10);
}

/** Today's UTC date: the API files deeds by UTC date and refuses a later one. */
export function todayUtc(): string {
  return new Date().toISOString().slice(0, 10);
}

export function thisMonthCst(): string {
  return todayCst().slice(0, 7);
}

export const pts = (n: number): string => `${n > 0 ? '+' : ''}${n}`;
