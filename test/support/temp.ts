/**
 * Temporary folders the tests make (a CLI run's DATA_DIR, an export's files, a child's
 * database): each is removed when the test file that made it ends (the root hook in
 * test/setup.ts), and, should the process end before that hook runs, when the process exits. A
 * run used to leave some thirty folders in the system's temporary folder; a CI machine runs the
 * suite twice a landing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const made = new Set<string>();

/** A fresh folder `<tmp>/msl-<prefix>-XXXXXX`, removed at the end of the test file. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `msl-${prefix}-`));
  made.add(dir);
  return dir;
}

/** Removes every folder `tempDir` made in this process so far. */
export function removeTempDirs(): void {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
  made.clear();
}

process.on('exit', removeTempDirs);
