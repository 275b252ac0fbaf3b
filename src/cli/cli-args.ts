/**
 * What every CLI command shares: the shape of a command in the table (commands.ts), its parsed
 * arguments, the exit codes and the usage error, and the readers of option values.
 */
import type { ParseArgsConfig } from 'node:util';
import type { CliDeps } from './commands';

export type Options = NonNullable<ParseArgsConfig['options']>;
export type Parsed = {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
};

export interface Command {
  usage: string;
  summary: string;
  options: Options;
  /** Number of positional arguments: [min, max]. */
  positionals: [number, number];
  database: boolean;
  /**
   * Writes configuration the services cache (users, villages, households, …): when it has run,
   * however it ended, the running services are told (cli/config-epoch.ts).
   */
  changesConfig?: boolean;
  run(args: Parsed, deps: CliDeps): number | Promise<number>;
}

export const EXIT_OK = 0;
export const EXIT_PROBLEM = 1;
export const EXIT_USAGE = 2;

/** A usage error: exit code 2 with the command's usage line. */
export class UsageError extends Error {}

/** A string option, or undefined when absent. */
export const str = (args: Parsed, key: string): string | undefined => {
  const v = args.values[key];
  return typeof v === 'string' ? v : undefined;
};

/** A whole-number option within [min, max], or undefined when absent; else a usage error. */
export const wholeNumber = (
  args: Parsed,
  key: string,
  min: number,
  max: number,
): number | undefined => {
  const v = str(args, key);
  if (v === undefined) return undefined;
  if (!/^\d{1,9}$/.test(v) || Number(v) < min || Number(v) > max)
    throw new UsageError(`--${key} takes a whole number ${min}–${max}`);
  return Number(v);
};
