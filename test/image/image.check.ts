/**
 * The Docker image's steps, run the way the image runs them, without a Docker daemon (CI runs
 * this file once: `npx mocha test/image/image.check.ts`):
 *
 * 1. build: in a scratch app folder, `npm ci` with npm 10 (the npm of node:20-bookworm-slim) on
 *    the committed lock file, the TypeScript build, `npm prune --omit=dev`;
 * 2. run: the compiled API and workers (`node dist/src/main.js`, `node dist/workers/main.js`)
 *    in production mode as an unprivileged user (nobody) with the app folder root's and
 *    read-only, and a writable data folder (the image's /data volume);
 * 3. use: sign in, set up a village, a household and a cooperative, post points, run a credit
 *    export to its signed file, read /docs and /metrics; nothing is written into the app folder.
 *
 * It needs root (to switch to the unprivileged user); otherwise it is skipped, saying so.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import mongoose from 'mongoose';
import { ctx, deleteRedisKeys } from '../support/context';
import { expect } from '../support/expect';

const ROOT = path.resolve(__dirname, '..', '..');

/** A JSON response body, read loosely as a client would. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;
const NOBODY = 65534;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function run(cmd: string, args: string[], cwd: string): void {
  const r = spawnSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, npm_config_update_notifier: 'false' },
  });
  expect(r.status, `${cmd} ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).to.equal(0);
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Every file under `dir` with its mtime, to prove nothing was written there. */
function snapshot(dir: string): Map<string, number> {
  const out = new Map<string, number>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(p, statSync(p).mtimeMs);
    }
  };
  walk(dir);
  return out;
}

describe('the Docker image, step by step without Docker', function () {
  this.timeout(900_000);
  const tag = randomBytes(3).toString('hex');
  const work = mkdtempSync(path.join(os.tmpdir(), 'msl-image-'));
  const app = path.join(work, 'app');
  const data = path.join(work, 'data');
  const db = () => `image_${tag}`;
  const prefix = () => `${ctx().config.redisPrefix}-image`;
  const children: ChildProcess[] = [];

  before(function () {
    if (process.getuid?.() !== 0) this.skip(); // switching to an unprivileged user needs root (CI runs as root)
  });
  after(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await mongoose.connection
      .getClient()
      .db(db())
      .dropDatabase()
      .catch(() => undefined);
    await deleteRedisKeys(ctx().redis, prefix()).catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  });

  it('the Dockerfile runs as a user other than root, with DATA_DIR a declared volume that user owns', () => {
    const lines = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8').split('\n');
    const final = lines.slice(lines.map((l) => l.startsWith('FROM ')).lastIndexOf(true));
    const dataDir = /DATA_DIR=(\S+)/.exec(
      final.find((l) => l.startsWith('ENV ') && l.includes('DATA_DIR=')) ?? '',
    )?.[1];
    expect(dataDir, 'ENV DATA_DIR in the final stage').to.match(/^\//);
    expect(
      final.some((l) => l.startsWith('VOLUME ') && l.includes(`"${dataDir!}"`)),
      `VOLUME ["${dataDir!}"]`,
    ).to.equal(true);
    expect(
      final.some((l) => l.startsWith('RUN ') && l.includes(`chown node:node ${dataDir!}`)),
      'the data folder belongs to the service user',
    ).to.equal(true);
    const user = final.filter((l) => l.startsWith('USER ')).pop();
    expect(user, 'USER in the final stage').to.match(/^USER (?!root\b|0\b)\S+/);
    expect(
      final.filter((l) => /^COPY /.test(l)).every((l) => !l.includes('--chown')),
      'the app folder stays root’s (read-only for the service)',
    ).to.equal(true);
  });

  it('builds with npm 10 ci on the lock file, runs as nobody with a read-only app folder, and serves, exports and signs', async () => {
    // 1. build, as the image's build stage does
    chmodSync(work, 0o755);
    mkdirSync(app);
    for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json'])
      cpSync(path.join(ROOT, f), path.join(app, f));
    run('npx', ['-y', 'npm@10', 'ci', '--no-audit', '--no-fund'], app);
    for (const d of ['config', 'src', 'workers'])
      cpSync(path.join(ROOT, d), path.join(app, d), { recursive: true });
    run(path.join(app, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json'], app);
    run('npx', ['-y', 'npm@10', 'prune', '--omit=dev', '--no-audit', '--no-fund'], app);
    expect(
      existsSync(path.join(app, 'node_modules', 'typescript')),
      'dev dependencies pruned',
    ).to.equal(false);
    run('chmod', ['-R', 'go-w', app], app);
    mkdirSync(data, { mode: 0o700 });
    chownSync(data, NOBODY, NOBODY);
    const before = snapshot(app);

    // 2. run, as the image's two commands do
    const port = await freePort();
    const pem = (k: ReturnType<typeof generateKeyPairSync>['privateKey']) =>
      k.export({ type: 'pkcs8', format: 'pem' }).toString();
    const adminPassword = `adm-${randomBytes(8).toString('hex')}`;
    const metricsToken = randomBytes(24).toString('hex');
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      APP_MODE: 'production',
      START_WORKERS: 'false',
      DATA_DIR: data,
      PORT: String(port),
      HOST: '127.0.0.1',
      MONGODB_URI: ctx().mongoUri,
      MONGODB_DB: db(),
      REDIS_URL: ctx().redisUrl,
      REDIS_PREFIX: prefix(),
      JWT_PRIVATE_KEY: pem(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey),
      JWT_KEY_ID: 'image-jwt',
      EXPORT_SIGNING_KEY: pem(generateKeyPairSync('ed25519').privateKey),
      EXPORT_SIGNING_KEY_ID: 'image-export',
      VOLUNTEER_ID_KEY: randomBytes(32).toString('base64'),
      ADMIN_USERNAME: 'image-admin',
      ADMIN_PASSWORD: adminPassword,
      METRICS_TOKEN: metricsToken,
      WORKERS_HEARTBEAT_MS: '1000',
      PASSWORD_KDF_LOG2N: '12',
      LOG_LEVEL: 'warn',
    };
    const asNobody = (entry: string) => {
      const child = spawn(
        'setpriv',
        [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, entry],
        { cwd: app, env, stdio: ['ignore', 'inherit', 'inherit'] },
      );
      children.push(child);
      return child;
    };
    const api = asNobody('dist/src/main.js');
    asNobody('dist/workers/main.js');
    const base = `http://127.0.0.1:${port}`;
    const call = async (method: string, url: string, token?: string, body?: unknown) => {
      const res = await fetch(`${base}${url}`, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        body: body ? JSON.stringify(body) : undefined,
      });
      const type = res.headers.get('content-type') ?? '';
      return {
        status: res.status,
        headers: res.headers,
        body: (type.includes('json') ? await res.json() : await res.text()) as Json,
      };
    };
    const ok = async (
      method: string,
      url: string,
      token: string | undefined,
      body: unknown,
      status = 201,
    ) => {
      const res = await call(method, url, token, body);
      expect(res.status, `${method} ${url}: ${JSON.stringify(res.body)}`).to.equal(status);
      return res.body;
    };
    const until = Date.now() + 120_000;
    for (;;) {
      expect(api.exitCode, 'the API process is running').to.equal(null);
      const ready = await call('GET', '/readyz').catch(() => undefined);
      if (ready?.status === 200) break;
      expect(Date.now() < until, `ready in time: ${JSON.stringify(ready?.body)}`).to.equal(true);
      await sleep(250);
    }

    // 3. use
    const admin = (
      await ok(
        'POST',
        '/v1/auth/token',
        undefined,
        { grantType: 'password', username: 'image-admin', password: adminPassword },
        200,
      )
    ).accessToken as string;
    const village = await ok('POST', '/v1/villages', admin, {
      name: '镜像村',
      code: `IMG-${tag}`,
      township: '松岭镇',
      county: '祁丰县',
    });
    const household = await ok('POST', '/v1/households', admin, {
      villageId: village.id,
      head: '王镜',
      cardNo: `IMG-${tag}-1`,
    });
    await ok('POST', `/v1/households/${household.id as string}/adjustments`, admin, {
      points: 30,
      reason: '镜像测试',
    });
    expect(
      (await ok('GET', `/v1/households/${household.id as string}/account`, admin, undefined, 200))
        .spendable,
    ).to.equal(30);
    const coop = await ok('POST', '/v1/cooperatives', admin, {
      name: '镜像信用社',
      villageIds: [village.id],
    });
    const pw = `pw-${randomBytes(8).toString('hex')}`;
    await ok('POST', '/v1/users', admin, {
      username: `img-officer-${tag}`,
      password: pw,
      role: 'officer',
      cooperativeId: coop.id,
    });
    await ok('POST', '/v1/users', admin, {
      username: `img-clerk-${tag}`,
      password: pw,
      role: 'clerk',
      villageId: village.id,
    });
    const officer = (
      await ok(
        'POST',
        '/v1/auth/token',
        undefined,
        { grantType: 'password', username: `img-officer-${tag}`, password: pw },
        200,
      )
    ).accessToken as string;
    const clerk = (
      await ok(
        'POST',
        '/v1/auth/token',
        undefined,
        { grantType: 'password', username: `img-clerk-${tag}`, password: pw },
        200,
      )
    ).accessToken as string;
    await ok('POST', '/v1/consents', clerk, {
      householdId: household.id,
      cooperativeId: coop.id,
      expiresAt: new Date(Date.now() + 365 * 86_400_000).toISOString(),
      formRef: `FORM-${tag}`,
    });

    // An export's default asOf lies a settle window (2 s) in the past; start it once the consent is older.
    const consentedAt = Date.now();
    while (Date.now() < consentedAt + 3000) await sleep(100);
    const exp = await ok('POST', '/v1/credit/exports', officer, { villageIds: [village.id] }, 202);
    let status: Record<string, unknown> = {};
    for (let i = 0; i < 1200 && status.status !== 'done' && status.status !== 'failed'; i++) {
      status = await ok('GET', `/v1/credit/exports/${exp.id as string}`, officer, undefined, 200);
      if (status.status !== 'done') await sleep(250);
    }
    expect(status, JSON.stringify(status)).to.include({ status: 'done', rows: 1 });
    const file = await call('GET', `/v1/credit/exports/${exp.id as string}/file`, officer);
    expect(file.status).to.equal(200);
    expect(file.headers.get('cache-control')).to.equal('no-store');
    expect(String(file.body)).to.contain(household.id as string);
    expect(
      (await ok('GET', `/v1/credit/exports/${exp.id as string}/manifest`, officer, undefined, 200))
        .keyId,
    ).to.equal('image-export');
    const written = readdirSync(path.join(data, 'exports'));
    expect(written).to.include(`${exp.id as string}.csv`);
    expect(
      statSync(path.join(data, 'exports', `${exp.id as string}.csv`)).uid,
      'written by the unprivileged user',
    ).to.equal(NOBODY);

    const docs = await call('GET', '/docs/');
    expect(docs.status).to.equal(200);
    expect(docs.headers.get('content-security-policy')).to.contain("frame-ancestors 'none'");
    expect((await call('GET', '/metrics')).status, 'metrics need the token').to.equal(401);
    const metricsRes = await fetch(`${base}/metrics`, {
      headers: { authorization: `Bearer ${metricsToken}` },
    });
    expect(metricsRes.status).to.equal(200);
    expect(await metricsRes.text()).to.match(/^workers_heartbeat_fresh 1$/m);

    expect(
      [...snapshot(app)].filter(([p, m]) => before.get(p) !== m).map(([p]) => p),
      'nothing written into the app folder',
    ).to.deep.equal([]);
  });
});
