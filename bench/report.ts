/**
 * The bench's one table: every figure of one run as a row (markdown for people, JSON for
 * machines), each with its unit. Ratios compare figures of the same run only.
 */
import type { CommandCounts, CommandTimes } from './roundtrips';

export interface Row {
  section: string;
  what: string;
  value?: number;
  unit?: string;
  p50Ms?: number;
  p95Ms?: number;
  p99Ms?: number;
  /** Percentiles that are lower bounds (arrivals still unfinished when the drain time was up). */
  lowerBound?: { p50?: boolean; p95?: boolean; p99?: boolean };
  ratio?: { value: number; of: string };
  note?: string;
}

export interface RoundTripRow {
  operation: string;
  /** How the operations ran: sequential (the uncontended path) or at concurrency 32. */
  how: string;
  operations: number;
  perOperation: number;
  /** Of those, the ones made one after another (roundtrips.ts WAITS); set where measured. */
  waits?: number;
  byCommand: CommandCounts;
  /** The commands' times in this run (set for the concurrent runs). */
  times?: CommandTimes;
}

const fmt = (n: number | undefined, digits = 0): string => {
  if (n === undefined || Number.isNaN(n)) return '';
  if (Math.abs(n) >= 1000) return Math.round(n).toLocaleString('en');
  return n.toFixed(Math.abs(n) < 10 && digits === 0 ? 1 : digits);
};

const ms = (n: number | undefined, lower?: boolean) =>
  n === undefined ? '' : `${lower ? '≥ ' : ''}${fmt(n)}`;

/** The main table. */
export function markdownTable(rows: Row[]): string[] {
  const out = [
    '| section | what | value | unit | p50 ms | p95 ms | p99 ms | ratio | note |',
    '|---|---|---:|---|---:|---:|---:|---|---|',
  ];
  for (const r of rows) {
    const ratio = r.ratio
      ? `${r.ratio.value.toFixed(r.ratio.value < 10 ? 2 : 1)} × ${r.ratio.of}`
      : '';
    out.push(
      `| ${r.section} | ${r.what} | ${fmt(r.value)} | ${r.unit ?? ''} | ${ms(r.p50Ms, r.lowerBound?.p50)} | ${ms(r.p95Ms, r.lowerBound?.p95)} | ${ms(r.p99Ms, r.lowerBound?.p99)} | ${ratio} | ${r.note ?? ''} |`,
    );
  }
  return out;
}

/** Round trips per operation, with the commands behind them (collection command × per op). */
export function roundTripTable(rows: RoundTripRow[]): string[] {
  const out = [
    '| operation | how | operations | round trips per operation | by collection and command (per operation) |',
    '|---|---|---:|---:|---|',
  ];
  for (const r of rows) {
    const detail = Object.entries(r.byCommand)
      .map(([k, n]) => `${k} ×${fmt(n, 2)}`)
      .join(', ');
    const waits = r.waits === undefined ? '' : ` (${fmt(r.waits, 1)} one after another)`;
    out.push(
      `| ${r.operation} | ${r.how} | ${r.operations} | ${fmt(r.perOperation, 1)}${waits} | ${detail} |`,
    );
  }
  return out;
}

/** Command kinds shown per run in the times table (the longest in total first). */
const TIMES_SHOWN = 12;

/**
 * Database command times of the concurrent runs, per collection and command: where the time of
 * a run went (its share of all command time), and which commands have the long tails.
 */
export function commandTimeTable(rows: RoundTripRow[]): string[] {
  const out = [
    '| operation | how | collection command | commands | p50 ms | p95 ms | p99 ms | max ms | share of command time |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    if (!r.times) continue;
    const all = Object.values(r.times).reduce((a, t) => a + t.totalMs, 0);
    const shown = Object.entries(r.times).slice(0, TIMES_SHOWN);
    for (const [key, t] of shown) {
      const share = all > 0 ? `${((t.totalMs / all) * 100).toFixed(0)} %` : '';
      out.push(
        `| ${r.operation} | ${r.how} | ${key} | ${t.n} | ${fmt(t.p50Ms)} | ${fmt(t.p95Ms)} | ${fmt(t.p99Ms)} | ${fmt(t.maxMs)} | ${share} |`,
      );
    }
    const rest = Object.keys(r.times).length - shown.length;
    if (rest > 0) out.push(`| ${r.operation} | ${r.how} | ${rest} more kinds |  |  |  |  |  |  |`);
  }
  return out;
}

/** Rows as JSON: every figure named, with its value and unit. */
export function rowsAsJson(rows: Row[]) {
  return rows.map((r) => ({
    section: r.section,
    what: r.what,
    figures: [
      ...(r.value !== undefined ? [{ name: 'value', value: r.value, unit: r.unit ?? '' }] : []),
      ...(r.p50Ms !== undefined
        ? [
            {
              name: 'p50',
              value: r.p50Ms,
              unit: 'ms',
              ...(r.lowerBound?.p50 ? { lowerBound: true } : {}),
            },
          ]
        : []),
      ...(r.p95Ms !== undefined
        ? [
            {
              name: 'p95',
              value: r.p95Ms,
              unit: 'ms',
              ...(r.lowerBound?.p95 ? { lowerBound: true } : {}),
            },
          ]
        : []),
      ...(r.p99Ms !== undefined
        ? [
            {
              name: 'p99',
              value: r.p99Ms,
              unit: 'ms',
              ...(r.lowerBound?.p99 ? { lowerBound: true } : {}),
            },
          ]
        : []),
      ...(r.ratio ? [{ name: 'ratio', value: r.ratio.value, unit: `× ${r.ratio.of}` }] : []),
    ],
    ...(r.note ? { note: r.note } : {}),
  }));
}
