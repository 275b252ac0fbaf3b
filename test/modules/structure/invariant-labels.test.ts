/**
 * Invariant labels (the `- X1 …` lines that open a module) name one rule each: a label is
 * defined by one module only, so "R1" in a comment, an assertion, a test title or the README's
 * Guarantees cannot mean two things.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { expect } from '../../support/expect';

const ROOT = join(__dirname, '..', '..', '..');
const DEFINITION = /^\s*\*\s+-\s+([A-Z]{1,3}[0-9]+)\b/gm;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** `modules/<name>` or `platform`, `cli`: the module a source file belongs to. */
function moduleOf(file: string): string {
  const parts = relative(join(ROOT, 'src'), file).split(sep);
  return parts[0] === 'modules' ? `modules/${parts[1]}` : parts[0]!;
}

/** Label → the modules that define it. */
function definitions(): Map<string, Set<string>> {
  const byLabel = new Map<string, Set<string>>();
  for (const file of sourceFiles(join(ROOT, 'src'))) {
    for (const m of readFileSync(file, 'utf8').matchAll(DEFINITION)) {
      const set = byLabel.get(m[1]!) ?? new Set<string>();
      set.add(moduleOf(file));
      byLabel.set(m[1]!, set);
    }
  }
  return byLabel;
}

describe('invariant labels', () => {
  it('each label is defined by one module only (rules RU1–RU4 and redemption R1–R6 no longer share R1–R4)', () => {
    const defs = definitions();
    expect(defs.size).to.be.greaterThan(30);
    const shared = [...defs]
      .filter(([, modules]) => modules.size > 1)
      .map(([l, m]) => `${l}: ${[...m].join(', ')}`);
    expect(shared).to.deep.equal([]);
    // A letter prefix belongs to one module, so a new label cannot collide either.
    const prefixes = new Map<string, Set<string>>();
    for (const [label, modules] of defs) {
      const prefix = label.replace(/[0-9]+$/, '');
      const set = prefixes.get(prefix) ?? new Set<string>();
      for (const m of modules) set.add(m);
      prefixes.set(prefix, set);
    }
    const sharedPrefixes = [...prefixes]
      .filter(([, m]) => m.size > 1)
      .map(([p, m]) => `${p}: ${[...m].join(', ')}`);
    expect(sharedPrefixes).to.deep.equal([]);
  });

  it("every label the README's Guarantees cite is defined in src/", () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const guarantees = readme.slice(
      readme.indexOf('## Guarantees'),
      readme.indexOf('## Configuration'),
    );
    const cited = new Set<string>();
    for (const m of guarantees.matchAll(/\(([A-Z]{1,3}[0-9]+(?:[–,/ ]+[A-Z]{0,3}[0-9]+)*)\)/g)) {
      for (const l of m[1]!.matchAll(/[A-Z]{1,3}[0-9]+/g)) cited.add(l[0]);
    }
    expect(cited.size).to.be.greaterThan(5);
    const defs = definitions();
    expect([...cited].filter((l) => !defs.has(l))).to.deep.equal([]);
  });
});
