/**
 * Whole-village exports: a real BullMQ worker writes the CSV of consenting households, the
 * manifest's Ed25519 signature verifies with `openssl pkeyutl -verify` and the JWKS key alone, a
 * one-byte change fails it, and `npm run cli -- verify-export` agrees. Rows equal the single
 * look-up as of the same asOf; every exported household gets an inquiry, once.
 */
import { spawnSync } from 'node:child_process';
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import mongoose from 'mongoose';
import { parse } from 'csv-parse/sync';
import { ctx } from '../../support/context';
import { expect } from '../../support/expect';
import {
  http,
  makeCooperative,
  makeHousehold,
  makeUser,
  makeVillage,
  type TestUser,
} from '../../support/factories';
import { runWorkers, type RunningWorkers } from '../../../workers/runner';
import { runCli, type CliIo } from '../../../src/cli/commands';
import { createConsent, revokeConsent } from '../../../src/modules/credit/consents.service';
import { CreditExport } from '../../../src/modules/credit/credit.model';
import { CSV_HEADER, csvField, maskName } from '../../../src/modules/credit/credit.csv';
import { runExport } from '../../../src/modules/credit/credit.export-run';
import {
  CHAIN_READ_COST_ENTRIES,
  entriesReadFor,
  exportTuning,
} from '../../../src/modules/credit/credit.export-inputs';
import { filtersSent, notLoneId } from '../../support/filters';
import { ledgerEntryCount } from '../../../src/modules/ledger/ledger.service';
import { creditJobs } from '../../../src/modules/credit/credit.jobs';
import { loadSigningKeys, signingKeysFor } from '../../../src/modules/credit/credit.keys';
import { verifyExport } from '../../../src/modules/credit/credit.verify';
import { villageTotalsAt } from '../../../src/modules/credit/credit.inputs';
import { MODEL_V1, villageLevelAt } from '../../../src/modules/credit/credit.score';
import type { Principal } from '../../../src/platform/principal';
import { workerRedisOptions } from '../../../src/platform/redis';
import { award, deduct, inDays, sleep } from './helpers';
import { tempDir } from '../../support/temp';

const settings = { gradeThresholds: [800, 650, 500, 350] as const };
const asHousehold = (householdId: string): Principal => ({
  id: `u-${householdId}`,
  kind: 'person',
  role: 'household',
  householdId,
});

async function waitDone(officer: TestUser, id: string) {
  const seen: number[] = [];
  for (let i = 0; i < 600; i++) {
    const res = await http().get(`/v1/credit/exports/${id}`).set(officer.auth);
    expect(res.status).to.equal(200);
    seen.push(res.body.progress);
    if (res.body.status === 'done' || res.body.status === 'failed')
      return { status: res.body, progress: seen };
    await sleep(200);
  }
  throw new Error('export did not finish');
}

function openssl(args: string[]) {
  return spawnSync('openssl', args, { encoding: 'utf8' });
}

describe('credit exports (POST /v1/credit/exports, file, manifest, keys)', () => {
  let workers: RunningWorkers;
  let redis: Redis;
  let officer: TestUser;
  let villages: string[];
  let cooperativeId: string;
  let consenting: Map<string, string>;
  let excluded: Set<string>;
  let exportId: string;
  let csv: Buffer;
  let manifest: Record<string, unknown>;
  let jwks: { keys: { kid: string; kty: string; crv: string; x: string }[] };
  const dir = tempDir('export-test');

  before(async function () {
    this.timeout(300_000);
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
    villages = [(await makeVillage()).id, (await makeVillage()).id];
    const outsideVillage = (await makeVillage()).id;
    const coop = await makeCooperative([...villages, outsideVillage]);
    const otherCoop = await makeCooperative(villages);
    cooperativeId = coop.id;
    officer = await makeUser('officer', { cooperativeId });
    consenting = new Map();
    excluded = new Set();
    const names = ['张三明', '李四', '欧阳小红', '王', '=SUM(A1)'];
    // 300 households in the two villages: 240 consent, 20 revoke, 20 never consent, 20 consent to another cooperative.
    for (let i = 0; i < 300; i++) {
      const h = await makeHousehold(villages[i % 2]!, { head: names[i % names.length]! });
      if (i < 260) {
        const c = await createConsent(asHousehold(h.id), {
          householdId: h.id,
          cooperativeId,
          expiresAt: new Date(inDays(365)),
          ...(i % 3 === 0 ? { customerRef: `CUST-${i}` } : {}),
        });
        if (i >= 240) {
          await revokeConsent(asHousehold(h.id), c.id);
          excluded.add(h.id);
        } else consenting.set(h.id, c.customerRef ?? '');
      } else if (i < 280) {
        excluded.add(h.id);
      } else {
        await createConsent(asHousehold(h.id), {
          householdId: h.id,
          cooperativeId: otherCoop.id,
          expiresAt: new Date(inDays(365)),
        });
        excluded.add(h.id);
      }
      if (i % 5 === 0)
        await award(h.id, 10 + (i % 7), i % 10 === 0 ? 'best-family' : 'volunteer-hour');
      if (i % 11 === 0) await deduct(h.id, 5);
    }
    // A consenting household outside the requested villages is not exported either.
    const outside = await makeHousehold(outsideVillage);
    await createConsent(asHousehold(outside.id), {
      householdId: outside.id,
      cooperativeId,
      expiresAt: new Date(inDays(365)),
    });
    excluded.add(outside.id);
    await sleep(2100);

    const created = await http()
      .post('/v1/credit/exports')
      .set(officer.auth)
      .send({ villageIds: villages });
    expect(created.status, JSON.stringify(created.body)).to.equal(202);
    exportId = created.body.id;
    const { status, progress } = await waitDone(officer, exportId);
    expect(status.status, JSON.stringify(status)).to.equal('done');
    expect(progress).to.deep.equal([...progress].sort((a, b) => a - b)); // never goes back
    expect(status.progress).to.equal(100);
    const file = await http()
      .get(`/v1/credit/exports/${exportId}/file`)
      .set(officer.auth)
      .buffer(true)
      .parse((res, cb) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => cb(null, Buffer.concat(chunks)));
      });
    expect(file.status).to.equal(200);
    expect(file.headers['content-type']).to.equal('text/csv; charset=utf-8');
    csv = file.body as Buffer;
    manifest = (await http().get(`/v1/credit/exports/${exportId}/manifest`).set(officer.auth)).body;
    expect((await http().get('/v1/credit/keys')).status).to.equal(401); // every /v1 route takes a token
    jwks = (await http().get('/v1/credit/keys').set(officer.auth)).body;
  });

  after(async () => {
    await workers.close();
    redis.disconnect();
  });

  it('the CSV holds exactly the households with a valid consent to this cooperative, with a header row', () => {
    const [header, ...rows] = parse(csv, { bom: true }) as string[][];
    expect(header).to.deep.equal([...CSV_HEADER]);
    expect(rows).to.have.length(consenting.size);
    expect(new Set(rows.map((r) => r[0]))).to.deep.equal(new Set(consenting.keys()));
    for (const r of rows) expect(excluded.has(r[0]!)).to.equal(false);
    expect(manifest.rows).to.equal(240);
  });

  it('each row carries the customer reference, a masked head name, village, score, grade, reason codes, asOf and modelVersion', () => {
    const [, ...rows] = parse(csv, { bom: true }) as string[][];
    for (const r of rows) {
      const [id, ref, name, code, , score, grade, reasons, asOf, model] = r as string[];
      expect(ref).to.equal(consenting.get(id!));
      expect(name).to.not.match(/张三明|李四|欧阳小红/);
      expect(['张*明', '李*', '欧**红', '*', "'=******)"]).to.include(name);
      expect(code).to.match(/^V/);
      expect(Number(score)).to.be.within(0, 1000);
      expect(['优秀', '良好', '中等', '一般', '较差']).to.include(grade);
      expect(reasons).to.match(/^[A-Z_]+(\|[A-Z_]+){0,3}$/);
      expect(asOf).to.equal(manifest.asOf);
      expect(model).to.equal('msl-credit-v1');
    }
  });

  it('a row equals the single look-up as of the same asOf', async () => {
    const [, ...rows] = parse(csv, { bom: true }) as string[][];
    for (const r of rows.filter((_, i) => i % 40 === 0)) {
      const res = await http()
        .get(`/v1/credit/households/${r[0]}`)
        .query({ purpose: '核对导出', asOf: r[8]! })
        .set(officer.auth);
      expect(res.status).to.equal(200);
      expect([
        String(res.body.score),
        res.body.grade,
        res.body.reasons.map((x: { code: string }) => x.code).join('|'),
      ]).to.deep.equal([r[5], r[6], r[7]]);
    }
  });

  it('the village levels the export computed from its partitions equal the look-up path’s computation', async () => {
    const memos = mongoose.connection.db!.collection('credit_village_levels');
    for (const v of villages) {
      const memo = await memos.findOne({
        villageId: v,
        modelVersion: 'msl-credit-v1',
        levelAt: villageLevelAt(new Date(String(manifest.asOf))),
      });
      expect(memo, v).to.not.equal(null);
      await memos.deleteOne({ _id: memo!._id });
      const recomputed = await villageTotalsAt(MODEL_V1, v, new Date(String(manifest.asOf)));
      expect({
        households: recomputed.households,
        awardPoints: recomputed.awardPoints,
      }).to.deep.equal({ households: memo!.households, awardPoints: memo!.awardPoints });
    }
  });

  it('the manifest’s sha256 is the file’s, and its signature verifies with openssl and the JWKS key; a one-byte change fails', () => {
    expect(manifest).to.include.keys(
      'sha256',
      'rows',
      'asOf',
      'modelVersion',
      'keyId',
      'signature',
    );
    expect(manifest.sha256).to.equal(createHash('sha256').update(csv).digest('hex'));
    const jwk = jwks.keys.find((k) => k.kid === manifest.keyId)!;
    expect(jwk).to.include({ kty: 'OKP', crv: 'Ed25519' });
    const pem = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x },
      format: 'jwk',
    }).export({ type: 'spki', format: 'pem' });
    writeFileSync(path.join(dir, 'key.pem'), pem);
    writeFileSync(path.join(dir, 'export.csv'), csv);
    writeFileSync(path.join(dir, 'export.sig'), Buffer.from(String(manifest.signature), 'base64'));
    const ok = openssl([
      'pkeyutl',
      '-verify',
      '-pubin',
      '-inkey',
      path.join(dir, 'key.pem'),
      '-rawin',
      '-in',
      path.join(dir, 'export.csv'),
      '-sigfile',
      path.join(dir, 'export.sig'),
    ]);
    expect(ok.status, ok.stderr).to.equal(0);
    expect(ok.stdout).to.include('Signature Verified Successfully');
    const tampered = Buffer.from(csv);
    const at = tampered.lastIndexOf(Buffer.from(',msl-credit-v1')) - 30;
    tampered[at] = tampered[at]! ^ 0x01;
    writeFileSync(path.join(dir, 'tampered.csv'), tampered);
    const bad = openssl([
      'pkeyutl',
      '-verify',
      '-pubin',
      '-inkey',
      path.join(dir, 'key.pem'),
      '-rawin',
      '-in',
      path.join(dir, 'tampered.csv'),
      '-sigfile',
      path.join(dir, 'export.sig'),
    ]);
    expect(bad.status).to.not.equal(0);
    expect(bad.stdout + bad.stderr).to.include('Signature Verification Failure');
  });

  it('verify-export (CLI) accepts the export and refuses a changed file, a changed manifest and an unknown key', async () => {
    writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
    writeFileSync(path.join(dir, 'jwks.json'), JSON.stringify(jwks));
    const run = async (args: string[]) => {
      const out: string[] = [];
      const io: CliIo = { out: (l) => out.push(l), err: (l) => out.push(l) };
      const code = await runCli(args, {
        config: ctx().config,
        logger: ctx().logger,
        io,
        connect: () => Promise.reject(new Error('no database needed')),
      });
      return { code, out: out.join('\n') };
    };
    const good = await run([
      'verify-export',
      path.join(dir, 'export.csv'),
      path.join(dir, 'manifest.json'),
      path.join(dir, 'jwks.json'),
    ]);
    expect(good.code, good.out).to.equal(0);
    expect(good.out).to.include('VERIFIED');
    const changed = await run([
      'verify-export',
      path.join(dir, 'tampered.csv'),
      path.join(dir, 'manifest.json'),
      path.join(dir, 'jwks.json'),
    ]);
    expect(changed.code).to.equal(1);
    expect(changed.out).to.include('NOT VERIFIED');
    writeFileSync(path.join(dir, 'manifest-rows.json'), JSON.stringify({ ...manifest, rows: 239 }));
    expect(
      (
        await run([
          'verify-export',
          path.join(dir, 'export.csv'),
          path.join(dir, 'manifest-rows.json'),
          path.join(dir, 'jwks.json'),
        ])
      ).code,
    ).to.equal(1);
    const stranger = loadSigningKeys({});
    writeFileSync(path.join(dir, 'jwks-other.json'), JSON.stringify(stranger.jwks));
    expect(
      (
        await run([
          'verify-export',
          path.join(dir, 'export.csv'),
          path.join(dir, 'manifest.json'),
          path.join(dir, 'jwks-other.json'),
        ])
      ).code,
    ).to.equal(1);
    expect(
      (
        await run([
          'verify-export',
          path.join(dir, 'missing.csv'),
          path.join(dir, 'manifest.json'),
          path.join(dir, 'jwks.json'),
        ])
      ).code,
    ).to.equal(2);
    expect((await run(['verify-export', path.join(dir, 'export.csv')])).code).to.equal(2);
  });

  it('an old export still verifies after the signing key is rotated, because the JWKS keeps the old public key', () => {
    const current = signingKeysFor(ctx().config);
    const oldPem = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: jwks.keys.find((k) => k.kid === manifest.keyId)!.x },
      format: 'jwk',
    }).export({ type: 'spki', format: 'pem' }) as string;
    const next = generateKeyPairSync('ed25519').privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    }) as string;
    const rotated = loadSigningKeys({
      privateKeyPem: next,
      keyId: 'export-2027',
      previousPublicKeys: { [current.keyId]: oldPem },
    });
    expect(rotated.keyId).to.equal('export-2027');
    expect(rotated.jwks.keys.map((k) => k.kid)).to.deep.equal(['export-2027', current.keyId]);
    expect(verifyExport(csv, manifest, rotated.jwks).ok).to.equal(true);
    const fresh = Buffer.from('householdId\r\n');
    expect(
      verifyExport(
        fresh,
        { ...manifest, keyId: 'export-2027', signature: rotated.sign(fresh) },
        rotated.jwks,
      ).problems.join(),
    ).to.not.include('signature does not verify');
  });

  it('every exported household has one inquiry for the export; the others have none; running the job again adds nothing', async () => {
    const inq = mongoose.connection.db!.collection('credit_inquiries');
    const count = () => inq.countDocuments({ purpose: `整村授信导出（导出编号 ${exportId}）` });
    expect(await count()).to.equal(240);
    for (const id of [...excluded].slice(0, 10))
      expect(await inq.countDocuments({ householdId: id })).to.equal(0);
    const one = [...consenting.keys()][0]!;
    const hh = await makeUser('household', { householdId: one });
    const list = await http().get(`/v1/households/${one}/inquiries`).set(hh.auth);
    expect(
      list.body.items.map((i: { result: string; officerName: string }) => [
        i.result,
        i.officerName,
      ]),
    ).to.deep.include(['exported', officer.username]);
    // A retry after a crash starts over: same bytes, no second inquiry.
    await CreditExport.updateOne(
      { _id: new mongoose.Types.ObjectId(exportId) },
      { $set: { status: 'running' } },
    );
    const again = await runExport(exportId, {
      keys: signingKeysFor(ctx().config),
      exportDir: ctx().config.credit.exportDir,
      settings,
      log: ctx().logger,
    });
    expect(again?.sha256).to.equal(manifest.sha256);
    expect(await count()).to.equal(240);
    expect(
      await runExport(exportId, {
        keys: signingKeysFor(ctx().config),
        exportDir: ctx().config.credit.exportDir,
        settings,
        log: ctx().logger,
      }),
    ).to.equal(undefined);
  });

  it('reads its households’ chains by `_id` instead of a pass over the ledger when that reads less, and writes the same bytes either way', async () => {
    // 88 entries in this file's ledger: one household's chain reads less than a pass, the
    // export's 301 households' chains would read more. The ledger's size comes from its
    // statistics: exact on SQLite and MongoDB, PostgreSQL's estimate (as of its last analyze).
    const size = await ledgerEntryCount();
    const real = await mongoose.connection.db!.collection('ledger_entries').countDocuments();
    if (ctx().config.mongodbUri || ctx().config.ferretdb.handler === 'sqlite')
      expect(size).to.equal(real);
    expect(await entriesReadFor(1)).to.equal(size > CHAIN_READ_COST_ENTRIES ? 'chains' : 'pass');
    expect(await entriesReadFor(301)).to.equal('pass');
    try {
      for (const way of ['chains', 'pass'] as const) {
        exportTuning.entriesRead = way;
        await CreditExport.updateOne(
          { _id: new mongoose.Types.ObjectId(exportId) },
          { $set: { status: 'running' } },
        );
        let r: Awaited<ReturnType<typeof runExport>>;
        const seen = await filtersSent(async () => {
          r = await runExport(exportId, {
            keys: signingKeysFor(ctx().config),
            exportDir: ctx().config.credit.exportDir,
            settings,
            log: ctx().logger,
          });
        });
        expect(r!).to.include({ entriesRead: way, sha256: manifest.sha256 });
        const ledgerReads = seen.filter((f) => f.startsWith('ledger_entries '));
        if (way === 'chains') expect(notLoneId(ledgerReads)).to.deep.equal([]);
        else expect(notLoneId(ledgerReads)).to.have.length(1); // the one pass
      }
    } finally {
      delete exportTuning.entriesRead;
    }
  });

  it('only the cooperative’s own officers see an export; villages outside its area and unfinished exports are refused', async () => {
    const otherCoop = await makeCooperative(villages);
    const stranger = await makeUser('officer', { cooperativeId: otherCoop.id });
    for (const suffix of ['', '/file', '/manifest']) {
      const res = await http().get(`/v1/credit/exports/${exportId}${suffix}`).set(stranger.auth);
      expect(res.status, suffix).to.equal(404);
    }
    const outside = await makeVillage();
    const bad = await http()
      .post('/v1/credit/exports')
      .set(officer.auth)
      .send({ villageIds: [villages[0], outside.id] });
    expect(bad.status).to.equal(400);
    expect(bad.body.errors[0].path).to.equal('villageIds.1');
    for (const body of [
      { villageIds: [] },
      { villageIds: villages, asOf: '2999-01-01' },
      { villageIds: villages, extra: 1 },
    ]) {
      expect(
        (await http().post('/v1/credit/exports').set(officer.auth).send(body)).status,
      ).to.equal(400);
    }
    const clerk = await makeUser('clerk', { villageId: villages[0] });
    expect(
      (await http().post('/v1/credit/exports').set(clerk.auth).send({ villageIds: villages }))
        .status,
    ).to.equal(403);
    // An export whose job has not run yet: status queued, file and manifest 409.
    const queued = await CreditExport.create({
      cooperativeId,
      officerId: officer.user.id,
      villageIds: villages,
      asOf: new Date('2025-01-01'),
      modelVersion: 'msl-credit-v1',
      status: 'queued',
      progress: 0,
      createdAt: new Date(),
      updatedAt: new Date(),
    });
    const st = await http().get(`/v1/credit/exports/${queued._id.toHexString()}`).set(officer.auth);
    expect(st.body).to.include({ status: 'queued', progress: 0 });
    expect(
      (await http().get(`/v1/credit/exports/${queued._id.toHexString()}/file`).set(officer.auth))
        .status,
    ).to.equal(409);
    expect(
      (
        await http()
          .get(`/v1/credit/exports/${queued._id.toHexString()}/manifest`)
          .set(officer.auth)
      ).status,
    ).to.equal(409);
  });

  it('masks names and neutralises spreadsheet formulas', () => {
    expect(['张三明', '李四', '欧阳小红', '王', ''].map(maskName)).to.deep.equal([
      '张*明',
      '李*',
      '欧**红',
      '*',
      '*',
    ]);
    expect(csvField('=1+1')).to.equal("'=1+1");
    expect(csvField('a,"b"')).to.equal('"a,""b"""');
    expect(csvField(-5)).to.equal('-5');
  });
});
