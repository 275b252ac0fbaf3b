/**
 * Refusal reasons (src/platform/reasons.ts): one table, shown by /openapi.json and the README,
 * with no reason that nothing throws, and refusals that carry the reason of their rule.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from '../../support/expect';
import { http, makeAdmin, makeVillage } from '../../support/factories';
import { ERROR_STATUS, PROBLEM_REASONS, reasonsMarkdown } from '../../../src/platform/errors';
import { PROBLEM_REASON_KEYS } from '../../../src/platform/reasons';
import { REASONS_END, REASONS_START } from '../../../tools/readme-reasons';

const ROOT = join(__dirname, '..', '..', '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

describe('refusal reasons', () => {
  it('README.md lists exactly the table of src/platform/reasons.ts (npm run docs:reasons writes it)', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const start = readme.indexOf(REASONS_START);
    const end = readme.indexOf(REASONS_END);
    expect(start, 'README has the reasons markers').to.be.greaterThan(-1);
    expect(readme.slice(start + REASONS_START.length, end).trim()).to.equal(reasonsMarkdown());
  });

  it('every reason is thrown or answered somewhere in src/ (no dead reasons), and none is a bare `conflict`', () => {
    const table = join(ROOT, 'src', 'platform', 'reasons.ts');
    const code = sourceFiles(join(ROOT, 'src'))
      .filter((f) => f !== table)
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');
    const dead = PROBLEM_REASON_KEYS.filter((r) => !code.includes(`'${r}'`));
    expect(dead, 'reasons referenced nowhere in src/').to.deep.equal([]);
    expect(PROBLEM_REASONS).to.not.have.property('conflict');
    for (const r of PROBLEM_REASON_KEYS)
      expect(ERROR_STATUS).to.have.property(PROBLEM_REASONS[r].code);
  });

  it('GET /openapi.json › the Problem schema has `reason` as an enum of every reason, described with its code', async () => {
    const res = await http().get('/openapi.json');
    const problem = res.body.components.schemas.Problem as {
      properties: { reason: { enum: string[]; description: string } };
      required: string[];
    };
    expect(problem.properties.reason.enum).to.deep.equal(PROBLEM_REASON_KEYS);
    expect(problem.required).to.include('reason');
    for (const r of PROBLEM_REASON_KEYS) {
      expect(problem.properties.reason.description).to.include(
        `\`${r}\` (\`${PROBLEM_REASONS[r].code}\``,
      );
    }
  });

  it('refusals carry the reason of their rule beside the unchanged contract code', async () => {
    const admin = await makeAdmin();
    const village = await makeVillage();
    const taken = await http()
      .post('/v1/villages')
      .set(admin.auth)
      .send({ name: '又一村', code: village.code, township: '某镇', county: '某县' });
    expect(taken.status).to.equal(409);
    expect(taken.body).to.include({ code: 'conflict', reason: 'village_code_taken' });

    const missing = await http().get('/v1/households/000000000000000000000000').set(admin.auth);
    expect(missing.status).to.equal(404);
    expect(missing.body).to.include({ code: 'not_found', reason: 'not_found' });

    const anonymous = await http().get('/v1/villages');
    expect(anonymous.body).to.include({ code: 'unauthenticated', reason: 'unauthenticated' });

    const unknownField = await http()
      .post('/v1/villages')
      .set(admin.auth)
      .send({ name: '某村', code: 'X1', township: '某镇', county: '某县', extra: 1 });
    expect(unknownField.status).to.equal(400);
    expect(unknownField.body).to.include({
      code: 'validation_failed',
      reason: 'validation_failed',
    });

    const tooLarge = await http()
      .post('/v1/villages')
      .set(admin.auth)
      .set('content-type', 'application/json')
      .send(JSON.stringify({ name: 'x'.repeat(1024 * 1024 + 1) }));
    expect(tooLarge.status).to.equal(413);
    expect(tooLarge.body).to.include({ code: 'payload_too_large', reason: 'payload_too_large' });
  });
});
