/** Shared set-up of the credit tests: a village served by a cooperative, consents, postings. */
import { Types } from 'mongoose';
import { expect } from '../../support/expect';
import {
  http,
  makeCooperative,
  makeHousehold,
  makeUser,
  makeVillage,
  type TestUser,
} from '../../support/factories';
import { postEntry } from '../../../src/modules/ledger/ledger.service';

export const DAY_MS = 86_400_000;
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const inDays = (d: number) => new Date(Date.now() + d * DAY_MS).toISOString();

export async function award(householdId: string, points: number, ruleCode = 'volunteer-hour') {
  return postEntry({
    householdId,
    type: 'award',
    points,
    spendableDelta: points,
    meritDelta: points,
    shortfall: 'clamp',
    source: { type: 'test-award', id: new Types.ObjectId().toHexString() },
    ruleCode,
  });
}

export async function deduct(householdId: string, points: number, ruleCode = 'gambling') {
  return postEntry({
    householdId,
    type: 'deduction',
    points: -points,
    spendableDelta: -points,
    meritDelta: -points,
    shortfall: 'clamp',
    source: { type: 'test-deduction', id: new Types.ObjectId().toHexString() },
    ruleCode,
  });
}

export async function redeem(householdId: string, points: number) {
  return postEntry({
    householdId,
    type: 'redemption',
    points: -points,
    spendableDelta: -points,
    meritDelta: 0,
    shortfall: 'reject',
    source: { type: 'test-redemption', id: new Types.ObjectId().toHexString() },
  });
}

export interface CreditWorld {
  villageId: string;
  cooperativeId: string;
  officer: TestUser;
  clerk: TestUser;
}

/** A village, a cooperative serving it, one of its officers and the village clerk. */
export async function makeCreditWorld(): Promise<CreditWorld> {
  const village = await makeVillage();
  const coop = await makeCooperative([village.id]);
  const officer = await makeUser('officer', { cooperativeId: coop.id });
  const clerk = await makeUser('clerk', { villageId: village.id });
  return { villageId: village.id, cooperativeId: coop.id, officer, clerk };
}

/** A household of the village with its own login. */
export async function makeMember(villageId: string, head = '张小明') {
  const h = await makeHousehold(villageId, { head });
  const login = await makeUser('household', { householdId: h.id });
  return { id: h.id, household: h, login };
}

/** The household consents to the cooperative through the API; returns the consent id. */
export async function consent(
  member: { id: string; login: TestUser },
  cooperativeId: string,
  extra: Record<string, unknown> = {},
): Promise<string> {
  const res = await http()
    .post('/v1/consents')
    .set(member.login.auth)
    .send({ householdId: member.id, cooperativeId, expiresAt: inDays(365), ...extra });
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  return res.body.id as string;
}

export const lookUp = (
  officer: TestUser,
  householdId: string,
  query: Record<string, string> = { purpose: '贷款审批' },
) => http().get(`/v1/credit/households/${householdId}`).query(query).set(officer.auth);

export async function inquiriesOf(member: { id: string; login: TestUser }) {
  const res = await http().get(`/v1/households/${member.id}/inquiries`).set(member.login.auth);
  expect(res.status).to.equal(200);
  return res.body.items as {
    officerId?: string;
    officerName: string;
    cooperativeId: string;
    cooperativeName: string;
    purpose: string;
    result: string;
    at: string;
  }[];
}
