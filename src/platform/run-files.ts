/**
 * What `npm start` leaves in `DATA_DIR/run` while it runs, for the CLI to find the service's
 * database (`mongodb.uri`: two FerretDBs must never open one SQLite folder) and Redis
 * (`redis.url`: to tell the service of configuration changes, cli/config-epoch.ts).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export type RunFile = 'mongodb.uri' | 'redis.url';

export const runFilePathOf = (dataDir: string, name: RunFile): string =>
  path.join(dataDir, 'run', name);

/** Writes a run file (owner-only) and returns how to remove it. */
export function writeRunFile(dataDir: string, name: RunFile, value: string): () => void {
  const file = runFilePathOf(dataDir, name);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${value}\n`, { mode: 0o600 });
  return () => rmSync(file, { force: true });
}

/** A run file's value, or undefined when there is none. */
export function readRunFile(dataDir: string, name: RunFile): string | undefined {
  try {
    return readFileSync(runFilePathOf(dataDir, name), 'utf8').trim();
  } catch {
    return undefined;
  }
}
