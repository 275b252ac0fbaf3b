/**
 * A village council scene for the submission tests: a village with its policy, a clerk,
 * council members (one of them living in the first household), households with their own
 * logins, an admin and a rule; plus helpers that drive the workflow through the API as the
 * clerk, the council and the villagers would, and real BullMQ workers on the test Redis.
 */
import { randomBytes } from 'node:crypto';
import { expect } from '../../support/expect';
import { ctx } from '../../support/context';
import {
  http,
  makeAdmin,
  makeHousehold,
  makeUser,
  makeVillage,
  unique,
  type TestUser,
} from '../../support/factories';
import { clock } from '../../../src/platform/clock';
import {
  createRuleVersion,
  type NewRuleVersion,
  type RuleVersionView,
} from '../../../src/modules/rules/rules.service';
import { submissionJobs } from '../../../src/modules/submissions/submissions.jobs';
import { notificationJobs } from '../../../src/modules/notifications/notifications.jobs';
import type { NotificationSender } from '../../../src/modules/notifications/notifications.service';
import { runWorkers, type RunningWorkers } from '../../../workers/runner';
import { Entry } from '../../../src/modules/ledger/ledger.model';

/** A JSON response body, read loosely as a client would. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = Record<string, any>;

export interface CouncilScene {
  villageId: string;
  admin: TestUser;
  clerk: TestUser;
  /** Council members; council[0] lives in households[0]. */
  council: TestUser[];
  households: { id: string; head: string; user: TestUser }[];
  rule: RuleVersionView;
}

const HEADS = ['张三明', '李四', '王小二', '赵六', '孙七', '周八', '吴九', '郑十'];

export async function makeRule(overrides: Partial<NewRuleVersion> = {}): Promise<RuleVersionView> {
  return createRuleVersion(undefined, {
    code: overrides.code ?? unique('R').slice(0, 32),
    title: overrides.title ?? '孝老爱亲',
    kind: overrides.kind ?? 'award',
    ...(overrides.pointsPerUnit === undefined ? { points: overrides.points ?? 10 } : {}),
    ...overrides,
  });
}

export async function makeCouncilScene(
  opts: {
    quorum?: number;
    noticePeriod?: string;
    councilSize?: number;
    households?: number;
    rule?: Partial<NewRuleVersion>;
    occurredOnWindowDays?: number;
  } = {},
): Promise<CouncilScene> {
  const village = await makeVillage({
    quorum: opts.quorum ?? 2,
    noticePeriod: opts.noticePeriod ?? 'P7D',
    occurredOnWindowDays: opts.occurredOnWindowDays,
  });
  const households: CouncilScene['households'] = [];
  for (let i = 0; i < (opts.households ?? 3); i++) {
    const head = HEADS[i % HEADS.length]!;
    const h = await makeHousehold(village.id, { head });
    households.push({ id: h.id, head, user: await makeUser('household', { householdId: h.id }) });
  }
  const council: TestUser[] = [];
  for (let i = 0; i < (opts.councilSize ?? 3); i++) {
    council.push(
      await makeUser(
        'council',
        i === 0
          ? { villageId: village.id, householdId: households[0]!.id }
          : { villageId: village.id },
      ),
    );
  }
  return {
    villageId: village.id,
    admin: await makeAdmin(),
    clerk: await makeUser('clerk', { villageId: village.id }),
    council,
    households,
    rule: await makeRule(opts.rule),
  };
}

export const today = (): string => clock.now().toISOString().slice(0, 10);

/** POST /v1/submissions as the clerk; returns the raw response. */
export function fileVia(
  s: CouncilScene,
  body: Record<string, unknown> = {},
  as: TestUser = s.clerk,
) {
  return http()
    .post('/v1/submissions')
    .set(as.auth)
    .send({
      villageId: s.villageId,
      householdId: s.households[1]!.id,
      ruleCode: s.rule.code,
      occurredOn: today(),
      evidence: { text: '邻居证明，村委核实' },
      ...body,
    });
}

/** Files and expects 201; returns the submission. */
export async function file(s: CouncilScene, body: Record<string, unknown> = {}): Promise<Json> {
  const res = await fileVia(s, body);
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  return res.body;
}

export function voteVia(
  id: string,
  member: TestUser,
  decision: 'approve' | 'reject' = 'approve',
  comment?: string,
) {
  return http()
    .post(`/v1/submissions/${id}/votes`)
    .set(member.auth)
    .send(comment ? { decision, comment } : { decision });
}

/** Approves with council members 1..n (member 0 lives in household 0 and may not vote on it). */
export async function approve(s: CouncilScene, id: string, n: number): Promise<Json> {
  let body: Json = {};
  for (let i = 1; i <= n; i++) {
    const res = await voteVia(id, s.council[i]!);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    body = res.body;
  }
  return body;
}

export async function getSub(s: CouncilScene, id: string, as: TestUser = s.admin): Promise<Json> {
  const res = await http().get(`/v1/submissions/${id}`).set(as.auth);
  expect(res.status, JSON.stringify(res.body)).to.equal(200);
  return res.body;
}

/** Ledger entries a submission posted (read straight from the ledger, as an auditor would). */
export async function entriesOf(sourceId: string) {
  return Entry.find({ sourceType: 'submission', sourceId }).lean();
}

/** Polls until `check` returns a value (not a timed assertion: the bound only stops a hung test). */
export async function eventually<T>(
  check: () => Promise<T | undefined | false>,
  what: string,
  boundMs = 30_000,
  everyMs = 50,
): Promise<T> {
  const until = Date.now() + boundMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > until) throw new Error(`gave up waiting: ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A sender that records what it was handed (the logging sender's stand-in in tests). */
export function recordingSender(): NotificationSender & {
  sent: { idempotencyKey: string; householdId: string; title: string }[];
} {
  const sent: { idempotencyKey: string; householdId: string; title: string }[] = [];
  return {
    name: 'test',
    sent,
    async send(msg) {
      sent.push({
        idempotencyKey: msg.idempotencyKey,
        householdId: msg.householdId,
        title: msg.title,
      });
      return { ref: `test-${randomBytes(4).toString('hex')}` };
    },
  };
}

/** Real BullMQ workers for the council and notification queues on the test Redis. */
export async function startCouncilWorkers(
  opts: { sweepEveryMs?: number; sender?: NotificationSender; scheduleRefreshMs?: number } = {},
): Promise<RunningWorkers> {
  return runWorkers(
    [
      ...submissionJobs({ sweepEveryMs: opts.sweepEveryMs ?? 1000 }),
      ...notificationJobs({ sender: opts.sender, everyMs: 500 }),
    ],
    {
      redisUrl: ctx().redisUrl,
      redisPrefix: ctx().config.redisPrefix,
      logger: ctx().logger,
      scheduleRefreshMs: opts.scheduleRefreshMs,
    },
  );
}

/** The clerk and a council member of a scene as principals, for filing in bulk through the service. */
export function principals(s: CouncilScene, member = 1) {
  return {
    clerk: {
      id: s.clerk.user.id,
      kind: 'person' as const,
      role: 'clerk' as const,
      villageId: s.villageId,
    },
    council: {
      id: s.council[member]!.user.id,
      kind: 'person' as const,
      role: 'council' as const,
      villageId: s.villageId,
    },
  };
}

/** Moves the service clock by `ms` from now on (restored by `resetClock`). */
export function shiftClock(ms: number): void {
  const base = clock.now;
  clock.now = () => new Date(base().getTime() + ms);
}

const realNow = clock.now;
export function resetClock(): void {
  clock.now = realNow;
}
