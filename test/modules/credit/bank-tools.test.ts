/**
 * What a bank relies on around an export: consent is checked when the export runs (a paper form
 * recorded just before the request counts, whatever the asOf), the CSV starts with a UTF-8
 * byte-order mark that the signature covers, the signing keys are public at
 * /.well-known/jwks.json, and the README's openssl-only recipe verifies a real export.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { parse } from 'csv-parse/sync';
import { ctx } from '../../support/context';
import { expect } from '../../support/expect';
import { http, type TestUser } from '../../support/factories';
import { runWorkers, type RunningWorkers } from '../../../workers/runner';
import { creditJobs } from '../../../src/modules/credit/credit.jobs';
import { signingKeysFor } from '../../../src/modules/credit/credit.keys';
import { verifyExport } from '../../../src/modules/credit/credit.verify';
import { workerRedisOptions } from '../../../src/platform/redis';
import {
  award,
  consent,
  inDays,
  makeCreditWorld,
  makeMember,
  sleep,
  type CreditWorld,
} from './helpers';
import { tempDir } from '../../support/temp';

const settings = { gradeThresholds: [800, 650, 500, 350] as const };
const README = path.resolve(__dirname, '../../../README.md');

/** Polls the export until it is done; returns the file's bytes and the manifest. */
async function finishedExport(officer: TestUser, id: string) {
  for (let i = 0; i < 600; i++) {
    const st = await http().get(`/v1/credit/exports/${id}`).set(officer.auth);
    expect(st.status).to.equal(200);
    if (st.body.status === 'failed') throw new Error(`export failed: ${JSON.stringify(st.body)}`);
    if (st.body.status === 'done') break;
    await sleep(100);
  }
  const file = await http()
    .get(`/v1/credit/exports/${id}/file`)
    .set(officer.auth)
    .buffer(true)
    .parse((res, cb) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => cb(null, Buffer.concat(chunks)));
    });
  expect(file.status).to.equal(200);
  const manifest = await http().get(`/v1/credit/exports/${id}/manifest`).set(officer.auth);
  expect(manifest.status).to.equal(200);
  return { csv: file.body as Buffer, manifest: manifest.body as Record<string, unknown> };
}

async function requestExport(w: CreditWorld, asOf?: string) {
  const res = await http()
    .post('/v1/credit/exports')
    .set(w.officer.auth)
    .send({ villageIds: [w.villageId], ...(asOf ? { asOf } : {}) });
  expect(res.status, JSON.stringify(res.body)).to.equal(202);
  return finishedExport(w.officer, res.body.id as string);
}

const householdsIn = (csv: Buffer) =>
  (parse(csv, { bom: true }) as string[][]).slice(1).map((r) => r[0]);

/** The README's openssl recipe: the first ```sh block after its heading. */
function readmeRecipe(): string {
  const text = readFileSync(README, 'utf8');
  const at = text.indexOf('### Verifying an export with openssl alone');
  expect(at, 'the README has the openssl recipe').to.be.greaterThan(0);
  const m = /```sh\n([\s\S]*?)```/.exec(text.slice(at));
  expect(m, 'the recipe is a sh block').to.not.equal(null);
  return m![1]!;
}

describe('credit exports for banks: consent at disclosure, byte-order mark, public keys, openssl', () => {
  let workers: RunningWorkers;
  let redis: Redis;

  before(async () => {
    redis = new Redis(ctx().redisUrl, workerRedisOptions());
    workers = await runWorkers(
      creditJobs({
        redis,
        redisPrefix: ctx().config.redisPrefix,
        keys: signingKeysFor(ctx().config),
        exportDir: ctx().config.credit.exportDir,
        settings,
        sweepEveryMs: 60_000,
      }),
      { redisUrl: ctx().redisUrl, redisPrefix: ctx().config.redisPrefix, logger: ctx().logger },
    );
  });
  after(async () => {
    await workers.close();
    redis.disconnect();
  });

  it('an export requested right after a paper-form consent includes that household, also as of a date before the consent; a consent revoked before the run is left out', async function () {
    this.timeout(60_000);
    const w = await makeCreditWorld();
    const online = await makeMember(w.villageId, '王大山');
    await consent(online, w.cooperativeId);
    const paper = await makeMember(w.villageId, '李小河');
    await award(paper.id, 20);
    const revoked = await makeMember(w.villageId, '赵一');
    const revokedId = await consent(revoked, w.cooperativeId);
    expect(
      (await http().delete(`/v1/consents/${revokedId}`).set(revoked.login.auth)).status,
    ).to.equal(200);
    const form = await http()
      .post('/v1/consents')
      .set(w.clerk.auth)
      .send({
        householdId: paper.id,
        cooperativeId: w.cooperativeId,
        expiresAt: inDays(365),
        formRef: 'FORM-0042',
      });
    expect(form.status, JSON.stringify(form.body)).to.equal(201);
    // At once, without asOf (a few seconds ago: before the paper form was recorded).
    const now = await requestExport(w);
    expect(new Set(householdsIn(now.csv))).to.deep.equal(new Set([online.id, paper.id]));
    expect(now.manifest.rows).to.equal(2);
    // A date long before either consent: the consents valid now cover the score as of then.
    const past = await requestExport(w, '2025-06-30');
    expect(past.manifest.asOf).to.equal('2025-06-30T15:59:59.999Z');
    expect(new Set(householdsIn(past.csv))).to.deep.equal(new Set([online.id, paper.id]));
  });

  it('the CSV starts with a UTF-8 byte-order mark; the manifest’s sha256 and signature cover the exact bytes, mark included', async function () {
    this.timeout(60_000);
    const w = await makeCreditWorld();
    await consent(await makeMember(w.villageId, '欧阳春花'), w.cooperativeId);
    const { csv, manifest } = await requestExport(w);
    expect([...csv.subarray(0, 3)]).to.deep.equal([0xef, 0xbb, 0xbf]);
    expect(csv.subarray(3, 3 + 'householdId,'.length).toString()).to.equal('householdId,');
    expect(csv.toString('utf8')).to.include('欧**花');
    expect(manifest.sha256).to.equal(createHash('sha256').update(csv).digest('hex'));
    const withoutMark = csv.subarray(3);
    expect(manifest.sha256).to.not.equal(createHash('sha256').update(withoutMark).digest('hex'));
    const keys = (await http().get('/.well-known/jwks.json')).body;
    expect(verifyExport(csv, manifest, keys).ok).to.equal(true);
    expect(verifyExport(withoutMark, manifest, keys).problems.join()).to.include(
      'signature does not verify',
    );
  });

  it('GET /.well-known/jwks.json serves the signing keys without a token, the same JWKS as GET /v1/credit/keys (which still needs one)', async () => {
    const w = await makeCreditWorld();
    const open = await http().get('/.well-known/jwks.json');
    expect(open.status).to.equal(200);
    expect(open.headers['content-type']).to.match(/^application\/jwk-set\+json/);
    expect(open.body.keys[0]).to.include({ kty: 'OKP', crv: 'Ed25519', use: 'sig', alg: 'EdDSA' });
    expect(open.body.keys[0]).to.not.have.property('d'); // never the private half
    const authed = await http().get('/v1/credit/keys').set(w.officer.auth);
    expect(authed.body).to.deep.equal(open.body);
    expect((await http().get('/v1/credit/keys')).status).to.equal(401);
  });

  it('the README’s openssl-only recipe verifies a real export, and fails after a one-byte change', async function () {
    this.timeout(60_000);
    const w = await makeCreditWorld();
    for (const head of ['张三明', '李四'])
      await consent(await makeMember(w.villageId, head), w.cooperativeId);
    const { csv, manifest } = await requestExport(w);
    const dir = tempDir('openssl');
    writeFileSync(path.join(dir, 'export.csv'), csv);
    writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
    writeFileSync(path.join(dir, 'jwks.json'), (await http().get('/.well-known/jwks.json')).text);
    const recipe = readmeRecipe();
    const run = () =>
      spawnSync('bash', ['-e', '-o', 'pipefail', '-c', recipe], { cwd: dir, encoding: 'utf8' });
    const ok = run();
    expect(ok.status, ok.stdout + ok.stderr).to.equal(0);
    expect(ok.stdout).to.include('Signature Verified Successfully');
    expect(ok.stdout).to.include('SHA-256 OK');
    const tampered = Buffer.from(csv);
    tampered[tampered.length - 5] = tampered[tampered.length - 5]! ^ 0x01;
    writeFileSync(path.join(dir, 'export.csv'), tampered);
    const bad = run();
    expect(bad.status).to.not.equal(0);
    expect(bad.stdout + bad.stderr).to.include('Signature Verification Failure');
  });
});
