/**
 * A separate process for the kill test, on a database and Redis prefix of its own (so the
 * thousand submissions neither slow down nor see the rest of the suite's data):
 *
 * - `setup`: makes a village, households, a clerk, a council member and a rule, then files and
 *   approves MSL_CHILD_COUNT one-point awards through the services (each queues its notice
 *   job), and prints `{"ids": [...], "households": [...]}`.
 * - `workers`: runs the council and notification workers like workers/main.ts and prints
 *   READY; the test SIGKILLs it (no graceful close) or ends it with SIGTERM.
 * - `verify`: prints `{"chains": {householdId: problem|null}}` from the ledger's own verifier.
 *
 * Every mode exits when its stdin closes, so a test that dies leaves no process behind.
 *
 * Input (environment): MSL_CHILD_MODE, MSL_CHILD_URI, MSL_CHILD_DB, MSL_CHILD_REDIS_URL,
 * MSL_CHILD_REDIS_PREFIX, MSL_CHILD_COUNT, MSL_CHILD_HOUSEHOLDS, MSL_CHILD_NOTICE, MSL_CHILD_NOTIFY.
 */
import { connectDb, disconnectDb, ensureIndexes } from '../../../src/platform/db';
import { createLogger } from '../../../src/platform/logger';
import { Queues } from '../../../src/platform/queues';
import type { Principal } from '../../../src/platform/principal';
import '../../../src/modules/models';
import { insertHousehold } from '../../../src/modules/households/households.service';
import { verifyChain } from '../../../src/modules/ledger/ledger.service';
import { notificationJobs } from '../../../src/modules/notifications/notifications.jobs';
import { createRuleVersion } from '../../../src/modules/rules/rules.service';
import {
  enqueueNoticeWith,
  submissionJobs,
} from '../../../src/modules/submissions/submissions.jobs';
import { castVote, fileSubmission } from '../../../src/modules/submissions/submissions.service';
import { createUser } from '../../../src/modules/users/users.service';
import { createVillage } from '../../../src/modules/villages/villages.service';
import { runWorkers } from '../../../workers/runner';

const env = process.env;

async function setup(): Promise<void> {
  const count = Number(env.MSL_CHILD_COUNT ?? 1000);
  const village = await createVillage({
    name: '压力村',
    code: `K${Date.now().toString(36)}`,
    township: '测试镇',
    county: '测试县',
    policy: { quorum: 1, noticePeriod: env.MSL_CHILD_NOTICE ?? 'PT2S' },
  });
  const households: string[] = [];
  for (let i = 0; i < Number(env.MSL_CHILD_HOUSEHOLDS ?? 50); i++) {
    households.push(
      (
        await insertHousehold({
          villageId: village.id,
          head: `测试户${i}`,
          cardNo: `K${Date.now().toString(36)}${i}`,
        })
      ).id,
    );
  }
  const clerkUser = await createUser(
    undefined,
    {
      username: `kclerk${Date.now()}`,
      password: 'password-long-1',
      role: 'clerk',
      villageId: village.id,
    },
    10,
  );
  const councilUser = await createUser(
    undefined,
    {
      username: `kcouncil${Date.now()}`,
      password: 'password-long-1',
      role: 'council',
      villageId: village.id,
    },
    10,
  );
  const rule = await createRuleVersion(undefined, {
    code: `kill-${Date.now().toString(36)}`,
    title: '环境卫生',
    kind: 'award',
    points: 1,
  });
  const clerk: Principal = {
    id: clerkUser.id,
    kind: 'person',
    role: 'clerk',
    villageId: village.id,
  };
  const council: Principal = {
    id: councilUser.id,
    kind: 'person',
    role: 'council',
    villageId: village.id,
  };
  const queues = new Queues(env.MSL_CHILD_REDIS_URL!, env.MSL_CHILD_REDIS_PREFIX!);
  const deps = { enqueuePost: enqueueNoticeWith(queues) };
  const ids: string[] = [];
  const CONCURRENCY = 4;
  for (let i = 0; i < count; i += CONCURRENCY) {
    ids.push(
      ...(await Promise.all(
        Array.from({ length: Math.min(CONCURRENCY, count - i) }, async (_, j) => {
          const occurredOn = new Date().toISOString().slice(0, 10);
          const sub = await fileSubmission(
            clerk,
            {
              villageId: village.id,
              householdId: households[(i + j) % households.length]!,
              ruleCode: rule.code,
              occurredOn,
              evidence: { text: '压力测试' },
            },
            deps,
          );
          const voted = await castVote(council, sub.id, { decision: 'approve' }, deps);
          if (voted.status !== 'in_notice')
            throw new Error(`expected in_notice, got ${voted.status}`);
          return sub.id;
        }),
      )),
    );
  }
  await queues.close();
  process.stdout.write(`${JSON.stringify({ ids, households })}\n`);
}

async function verify(): Promise<void> {
  const households: string[] = JSON.parse(env.MSL_CHILD_HOUSEHOLDS_JSON ?? '[]');
  const chains: Record<string, string | null> = {};
  for (const h of households) chains[h] = (await verifyChain(h))?.problem ?? null;
  process.stdout.write(`${JSON.stringify({ chains })}\n`);
}

async function main(): Promise<void> {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
  await connectDb(env.MSL_CHILD_URI!, env.MSL_CHILD_DB!);
  await ensureIndexes();
  const mode = env.MSL_CHILD_MODE;
  if (mode === 'setup') await setup();
  else if (mode === 'verify') await verify();
  else if (mode === 'workers') {
    // The kill test may leave the notification dispatcher out (MSL_CHILD_NOTIFY=0): the outbox has
    // tests of its own, and on FerretDB's SQLite backend every write waits for the one writer.
    const jobs = [
      ...submissionJobs({ sweepEveryMs: 500 }),
      ...(env.MSL_CHILD_NOTIFY === '0' ? [] : notificationJobs({ everyMs: 500 })),
    ];
    const running = await runWorkers(jobs, {
      redisUrl: env.MSL_CHILD_REDIS_URL!,
      redisPrefix: env.MSL_CHILD_REDIS_PREFIX!,
      logger: createLogger(env.TEST_LOG_LEVEL ?? 'silent'),
    });
    process.stdout.write('READY\n');
    process.on('SIGTERM', () => {
      void running
        .close()
        .then(() => disconnectDb())
        .then(() => process.exit(0));
    });
    return;
  } else throw new Error(`unknown mode ${mode}`);
  await disconnectDb();
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
