/**
 * Writes the refusal reasons table (src/platform/reasons.ts) into README.md between the
 * `<!-- reasons:start -->` and `<!-- reasons:end -->` markers: `npm run docs:reasons`.
 * test/modules/validation/reasons.test.ts fails when the README and the table disagree.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { reasonsMarkdown } from '../src/platform/errors';

export const REASONS_START = '<!-- reasons:start -->';
export const REASONS_END = '<!-- reasons:end -->';

/** The README with its reasons section replaced by the table as the code has it. */
export function withReasonsTable(readme: string): string {
  const start = readme.indexOf(REASONS_START);
  const end = readme.indexOf(REASONS_END);
  if (start < 0 || end < start) throw new Error('README.md has no reasons markers');
  return `${readme.slice(0, start + REASONS_START.length)}\n${reasonsMarkdown()}\n${readme.slice(end)}`;
}

if (require.main === module) {
  const path = join(__dirname, '..', 'README.md');
  writeFileSync(path, withReasonsTable(readFileSync(path, 'utf8')));
}
