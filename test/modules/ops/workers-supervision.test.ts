/**
 * A dead workers process under `npm start` does not go unnoticed. The service runs as a real
 * child process (src/main.ts, as `npm start` runs it) on a database and Redis prefix of its own,
 * and is driven through its HTTP API as a clerk and a council member would:
 *
 * 1. the workers process is frozen (SIGSTOP): it exists but takes no job, the case only a
 *    heartbeat reveals. Submissions are approved and their notices end while it is frozen: none
 *    posts, and /readyz answers 503 naming the stale workers (workers_heartbeat_fresh 0);
 * 2. it is killed with kill -9: `npm start` restarts it (logged), every due submission posts
 *    exactly once, /readyz is ready again and workers_restarts_total counts the restart;
 * 3. SIGTERM stops the service and its workers, leaving no process behind.
 *
 * Freezing first is what makes "/readyz reports the stale heartbeat while it is down"
 * deterministic: a killed process is back within the restart delay, a frozen one stays down
 * until the test lets it go. Every wait is on a condition with a generous deadline.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import mongoose from 'mongoose';
import { redisRunFilePath } from '../../../src/cli/config-epoch';
import { ctx, deleteRedisKeys } from '../../support/context';
import { expect } from '../../support/expect';
import { tempDir } from '../../support/temp';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const SUBMISSIONS = 10;
const DEADLINE_MS = 120_000;

/** A JSON response body, read loosely as a client would. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

interface LogLine {
  msg?: string;
  [k: string]: unknown;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  deadlineMs = DEADLINE_MS,
): Promise<T> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for: ${what}`);
    await sleep(100);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('npm start supervises its workers process', function () {
  this.timeout(600_000);
  const c = () => ctx();
  const db = () => `${c().config.mongodbDb}_sup`;
  const prefix = () => `${c().config.redisPrefix}-sup`;
  const dataDir = tempDir('sup');
  const adminPassword = `adm-${randomBytes(8).toString('hex')}`;
  const logs: LogLine[] = [];
  let service: ChildProcess | undefined;
  let base = '';

  const api = async (method: string, url: string, token?: string, body?: unknown) => {
    const res = await fetch(`${base}${url}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return {
      status: res.status,
      body: (text ? JSON.parse(text) : undefined) as Json,
    };
  };
  const ok = async (
    method: string,
    url: string,
    token: string | undefined,
    body: unknown,
    status = 201,
  ) => {
    const res = await api(method, url, token, body);
    expect(res.status, `${method} ${url}: ${JSON.stringify(res.body)}`).to.equal(status);
    return res.body;
  };
  const signIn = async (username: string, password: string) =>
    (
      await ok(
        'POST',
        '/v1/auth/token',
        undefined,
        { grantType: 'password', username, password },
        200,
      )
    ).accessToken as string;
  const metric = async (name: string) => {
    const text = await (await fetch(`${base}/metrics`)).text();
    const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const workerStarts = () => logs.filter((l) => l.msg === 'workers process started');

  after(async () => {
    if (service && service.exitCode === null) service.kill('SIGKILL');
    for (const l of workerStarts())
      if (typeof l.childPid === 'number' && alive(l.childPid)) process.kill(l.childPid, 'SIGKILL');
    await mongoose.connection
      .getClient()
      .db(db())
      .dropDatabase()
      .catch(() => undefined);
    await deleteRedisKeys(c().redis, prefix()).catch(() => undefined);
  });

  it('a frozen workers process makes /readyz 503 and nothing posts; killed with -9 it is restarted, every due submission posts exactly once, and SIGTERM leaves no process behind', async () => {
    service = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src', 'main.ts')], {
      cwd: ROOT,
      env: {
        ...process.env,
        APP_MODE: 'local',
        PORT: '0',
        HOST: '127.0.0.1',
        MONGODB_URI: c().mongoUri,
        MONGODB_DB: db(),
        REDIS_URL: c().redisUrl,
        REDIS_PREFIX: prefix(),
        DATA_DIR: dataDir,
        DEMO_SEED: 'false',
        ADMIN_USERNAME: 'sup-admin',
        ADMIN_PASSWORD: adminPassword,
        PASSWORD_KDF_LOG2N: '12',
        LOG_LEVEL: 'info',
        START_WORKERS: 'true',
        WORKERS_HEARTBEAT_MS: '300',
        WORKERS_HEARTBEAT_STALE_S: '2',
        WORKERS_RESTART_DELAY_MS: '200',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    readline.createInterface({ input: service.stdout! }).on('line', (line) => {
      try {
        logs.push(JSON.parse(line) as LogLine);
      } catch {
        // the banner and other plain lines
      }
    });
    const port = await waitFor(
      'API listening',
      () => logs.find((l) => l.msg === 'API listening')?.port as number | undefined,
    );
    base = `http://127.0.0.1:${port}`;
    // Where the CLI finds the Redis to tell of configuration changes (src/cli/config-epoch.ts).
    const redisFile = redisRunFilePath(dataDir);
    expect(readFileSync(redisFile, 'utf8').trim()).to.equal(c().redisUrl);
    const first = await waitFor(
      'the workers process started',
      () => workerStarts()[0]?.childPid as number | undefined,
    );
    await waitFor(
      'ready (fresh workers heartbeat)',
      async () => (await api('GET', '/readyz')).status === 200,
    );

    // A village whose notices last 2 s, a one-point rule, households, a clerk and one council member.
    const admin = await signIn('sup-admin', adminPassword);
    const tag = randomBytes(3).toString('hex');
    const village = await ok('POST', '/v1/villages', admin, {
      name: '守望村',
      code: `SUP-${tag}`,
      township: '松岭镇',
      county: '祁丰县',
      policy: { quorum: 1, noticePeriod: 'PT2S' },
    });
    await ok('POST', '/v1/rules', admin, {
      code: `sup-${tag}`,
      title: '环境卫生',
      kind: 'award',
      points: 1,
    });
    const households: string[] = [];
    for (let i = 0; i < 3; i++)
      households.push(
        (
          await ok('POST', '/v1/households', admin, {
            villageId: village.id,
            head: `王守${i}`,
            cardNo: `SUP-${tag}-${i}`,
          })
        ).id as string,
      );
    const pw = `pw-${randomBytes(8).toString('hex')}`;
    await ok('POST', '/v1/users', admin, {
      username: `sup-clerk-${tag}`,
      password: pw,
      role: 'clerk',
      villageId: village.id,
    });
    await ok('POST', '/v1/users', admin, {
      username: `sup-council-${tag}`,
      password: pw,
      role: 'council',
      villageId: village.id,
    });
    const clerk = await signIn(`sup-clerk-${tag}`, pw);
    const council = await signIn(`sup-council-${tag}`, pw);

    // 1. Frozen: the process exists, takes no job, writes no heartbeat.
    process.kill(first, 'SIGSTOP');
    const stale = await waitFor('/readyz 503 naming stale workers', async () => {
      const r = await api('GET', '/readyz');
      return r.status === 503 && r.body.checks.workers === 'stale' ? r : undefined;
    });
    expect(stale.body).to.deep.include({ status: 503, code: 'unavailable' });
    expect(stale.body.checks).to.include({ database: 'ok', redis: 'ok' });
    expect(await metric('workers_heartbeat_fresh')).to.equal(0);

    const ids: string[] = [];
    let lastEnd = 0;
    for (let i = 0; i < SUBMISSIONS; i++) {
      const sub = await ok('POST', '/v1/submissions', clerk, {
        villageId: village.id,
        householdId: households[i % households.length],
        ruleCode: `sup-${tag}`,
        occurredOn: new Date().toISOString().slice(0, 10),
        evidence: { text: '村道清扫' },
      });
      const voted = await ok(
        'POST',
        `/v1/submissions/${sub.id as string}/votes`,
        council,
        { decision: 'approve' },
        200,
      );
      expect(voted.status).to.equal('in_notice');
      lastEnd = Math.max(lastEnd, Date.parse(voted.noticeEndsAt as string));
      ids.push(sub.id as string);
    }
    await waitFor('every notice ended', () => Date.now() > lastEnd + 1000);
    // Observed without GET /v1/submissions/:id, which finishes due steps itself when read: the
    // list shows the recorded status, the ledger what was posted.
    const listed = async (status: string) =>
      (
        (
          await ok(
            'GET',
            `/v1/submissions?villageId=${village.id as string}&status=${status}&limit=100`,
            clerk,
            undefined,
            200,
          )
        ).items as { id: string }[]
      ).map((x) => x.id);
    const posted = async () =>
      (
        await Promise.all(
          households.map(async (h) =>
            (
              (await ok('GET', `/v1/households/${h}/entries?limit=100`, admin, undefined, 200))
                .items as { sourceId: string }[]
            ).map((e) => e.sourceId),
          ),
        )
      ).flat();
    expect((await listed('in_notice')).sort(), 'nothing posts without workers').to.deep.equal(
      [...ids].sort(),
    );
    expect(await posted()).to.deep.equal([]);
    expect((await api('GET', '/readyz')).status, 'still not ready').to.equal(503);

    // 2. kill -9: npm start restarts it and the due work gets done.
    process.kill(first, 'SIGKILL');
    const restarted = await waitFor('the workers process restarted', () =>
      workerStarts().find((l) => l.childPid !== first && l.restarts === 1),
    );
    expect(
      logs.some(
        (l) =>
          l.msg === 'workers process exited unexpectedly; restarting it' &&
          l.signal === 'SIGKILL' &&
          l.childPid === first,
      ),
    ).to.equal(true);
    await waitFor(
      'every due submission posted by the restarted workers',
      async () => (await listed('posted')).length === SUBMISSIONS,
    );
    const sources = await posted();
    expect(sources).to.have.length(SUBMISSIONS);
    expect(new Set(sources).size, 'one entry per submission').to.equal(SUBMISSIONS);
    await waitFor('ready again', async () => (await api('GET', '/readyz')).status === 200);
    expect(await metric('workers_restarts_total')).to.equal(1);
    expect(await metric('workers_heartbeat_fresh')).to.equal(1);

    // 3. SIGTERM: the service stops its workers and exits 0.
    const exited = new Promise<number | null>((resolve) =>
      service!.once('exit', (code) => resolve(code)),
    );
    service.kill('SIGTERM');
    expect(await exited).to.equal(0);
    expect(existsSync(redisFile), 'the Redis run file is removed').to.equal(false);
    expect(alive(restarted.childPid as number), 'the restarted workers process is gone').to.equal(
      false,
    );
    expect(
      logs.filter((l) => l.msg === 'workers process exited unexpectedly; restarting it'),
    ).to.have.length(1);
  });
});
