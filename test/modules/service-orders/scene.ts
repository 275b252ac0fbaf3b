/**
 * A county scene for the volunteer-service tests: a county of its own (so tests never see each
 * other's townships, teams or rankings) with two townships, villages, households with logins, a
 * clerk, a township officer, a supervisor, council members, the demo service menu, an hours rule
 * of its own, volunteers (two with households, one from outside the village) and a village team.
 * Helpers drive the loop through the API as the clerk, the team and the villager would.
 */
import { randomInt } from 'node:crypto';
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
import { createRuleVersion, type RuleVersionView } from '../../../src/modules/rules/rules.service';
import { seedDemoMenu } from '../../../src/modules/service-menu/service-menu.service';
import { updateVillagePolicy } from '../../../src/modules/villages/villages.service';
import { idCheckChar, idNumberHasherFor } from '../../../src/modules/volunteers/id-number';
import {
  registerVolunteer,
  type VolunteerView,
} from '../../../src/modules/volunteers/volunteers.service';
import { addMember, createTeam, type TeamView } from '../../../src/modules/teams/teams.service';
import type { Principal } from '../../../src/platform/principal';
import type { Json } from '../submissions/scene';

let serial = 0;
/** A valid resident ID number, different every call (region 999xxx: no real county). */
export function testIdNumber(): string {
  serial++;
  const region = `99${String(randomInt(0, 10_000)).padStart(4, '0')}`;
  const birth = `19${String(50 + randomInt(0, 50))}${String(1 + randomInt(0, 12)).padStart(2, '0')}${String(1 + randomInt(0, 28)).padStart(2, '0')}`;
  const first17 = `${region}${birth}${String(serial % 1000).padStart(3, '0')}`;
  return `${first17}${idCheckChar(first17)}`;
}

export const hasher = () => idNumberHasherFor(ctx().config);

export interface ServiceScene {
  county: string;
  countyId: string;
  townshipId: string;
  otherTownshipId: string;
  villageId: string;
  /** A second village of the same township. */
  village2Id: string;
  /** A village of the other township. */
  otherVillageId: string;
  admin: TestUser;
  clerk: TestUser;
  township: TestUser;
  otherTownship: TestUser;
  supervisor: TestUser;
  council: TestUser[];
  households: { id: string; user: TestUser }[];
  rule: RuleVersionView;
  volunteers: VolunteerView[];
  /** Not in any household. */
  outsider: VolunteerView;
  team: TeamView;
}

export const systemAdmin: Principal = { id: 'test', kind: 'person', role: 'admin' };

export async function makeServiceScene(
  opts: {
    orderTimeout?: string;
    ratedHoursNeedNoVote?: boolean;
    quorum?: number;
    noticePeriod?: string;
    pointsPerHour?: number;
  } = {},
): Promise<ServiceScene> {
  const county = unique('县');
  const township = unique('镇');
  const village = await makeVillage({
    county,
    township,
    quorum: opts.quorum ?? 2,
    noticePeriod: opts.noticePeriod ?? 'PT0S',
  });
  const village2 = await makeVillage({ county, township });
  const other = await makeVillage({ county, township: unique('镇') });
  const rule = await createRuleVersion(undefined, {
    code: unique('VH').slice(0, 32),
    title: '志愿服务',
    kind: 'award',
    pointsPerUnit: opts.pointsPerHour ?? 2,
    unit: '小时',
    effectiveFrom: '2020-01-01',
  });
  await updateVillagePolicy(village.id, {
    orderTimeout: opts.orderTimeout ?? 'PT48H',
    ratedHoursNeedNoVote: opts.ratedHoursNeedNoVote ?? false,
    hoursRuleCode: rule.code,
  });
  await seedDemoMenu(village.countyId!);
  const households: ServiceScene['households'] = [];
  for (let i = 0; i < 4; i++) {
    const h = await makeHousehold(village.id, {
      head: ['王建国', '李秀英', '张志强', '赵德明'][i]!,
    });
    households.push({ id: h.id, user: await makeUser('household', { householdId: h.id }) });
  }
  const clerkP: Principal = { id: 'test', kind: 'person', role: 'clerk', villageId: village.id };
  const volunteers = [
    await registerVolunteer(
      clerkP,
      { name: '王建国', idNumber: testIdNumber(), householdId: households[0]!.id },
      hasher(),
    ),
    await registerVolunteer(
      clerkP,
      { name: '李秀英', idNumber: testIdNumber(), householdId: households[1]!.id },
      hasher(),
    ),
  ];
  const outsider = await registerVolunteer(
    clerkP,
    { name: '陈老师', idNumber: testIdNumber() },
    hasher(),
  );
  const team = await createTeam(clerkP, {
    name: '扶贫帮困志愿服务队',
    category: 'care',
    level: 'village',
    villageId: village.id,
  });
  for (const v of [...volunteers, outsider]) await addMember(clerkP, team.id, v.id);
  return {
    county,
    countyId: village.countyId!,
    townshipId: village.townshipId!,
    otherTownshipId: other.townshipId!,
    villageId: village.id,
    village2Id: village2.id,
    otherVillageId: other.id,
    admin: await makeAdmin(),
    clerk: await makeUser('clerk', { villageId: village.id }),
    township: await makeUser('township', { townshipId: village.townshipId! }),
    otherTownship: await makeUser('township', { townshipId: other.townshipId! }),
    supervisor: await makeUser('supervisor', { villageId: village.id }),
    council: [
      await makeUser('council', { villageId: village.id }),
      await makeUser('council', { villageId: village.id }),
      await makeUser('council', { villageId: village.id }),
    ],
    households,
    rule,
    volunteers,
    outsider,
    team,
  };
}

export const today = (): string => clock.now().toISOString().slice(0, 10);
export const daysFromNow = (n: number): string =>
  new Date(clock.now().getTime() + n * 24 * 3600_000).toISOString().slice(0, 10);

/** The household at index `by` (default 2, not a volunteer's) orders an item; returns the response. */
export function orderVia(
  s: ServiceScene,
  body: Record<string, unknown> = {},
  as: TestUser = s.households[2]!.user,
) {
  return http()
    .post('/v1/service-orders')
    .set(as.auth)
    .send({
      householdId: s.households[2]!.id,
      itemCode: 'care-01',
      detail: '老人独居，请上门打扫卫生',
      wantedBy: daysFromNow(2),
      ...body,
    });
}

export async function order(s: ServiceScene, body: Record<string, unknown> = {}): Promise<Json> {
  const res = await orderVia(s, body);
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  return res.body;
}

export function step(
  s: ServiceScene,
  id: string,
  what: 'dispatch' | 'accept' | 'complete' | 'rating',
  body: Record<string, unknown>,
  as?: TestUser,
) {
  const who = as ?? (what === 'rating' ? s.households[2]!.user : s.clerk);
  return http().post(`/v1/service-orders/${id}/${what}`).set(who.auth).send(body);
}

/** Runs a step and expects 200; returns the order. */
export async function ok(
  s: ServiceScene,
  id: string,
  what: 'dispatch' | 'accept' | 'complete' | 'rating',
  body: Record<string, unknown>,
  as?: TestUser,
): Promise<Json> {
  const res = await step(s, id, what, body, as);
  expect(res.status, `${what}: ${JSON.stringify(res.body)}`).to.equal(200);
  return res.body;
}

/** Order → dispatch → accept (both household volunteers and the outsider) → complete → rate. */
export async function fullLoop(
  s: ServiceScene,
  hours = [3, 2, 1.5],
  extra: { servedOn?: string; stars?: number } = {},
): Promise<Json> {
  const o = await order(s);
  await ok(s, o.id, 'dispatch', { teamId: s.team.id });
  const ids = [s.volunteers[0]!.id, s.volunteers[1]!.id, s.outsider.id];
  await ok(s, o.id, 'accept', { volunteerIds: ids });
  await ok(s, o.id, 'complete', {
    hours: ids.map((volunteerId, i) => ({ volunteerId, hours: hours[i]! })),
    ...(extra.servedOn ? { servedOn: extra.servedOn } : {}),
  });
  return ok(s, o.id, 'rating', { stars: extra.stars ?? 5, comment: '很满意' });
}
