/**
 * The demo county's logins: one per role, each village's clerk, supervisor and council, and a
 * few households (a volunteer's household login is linked to the volunteer). Passwords are
 * random, returned once, and stored only as hashes (through `createUser`).
 */
import { randomBytes } from 'node:crypto';
import type { Role } from '../../platform/principal';
import type { HouseholdView } from '../households/households.service';
import { createUser } from '../users/users.service';
import type { VillageView } from '../villages/villages.service';

/** Password hashes computed at once: scrypt takes ~32 MiB each at the default cost. */
const HASH_CONCURRENCY = 4;
const COUNCIL_PER_VILLAGE = 3;
const HOUSEHOLD_LOGINS_PER_VILLAGE = 2;

export interface DemoLogin {
  role: Exclude<Role, 'terminal'>;
  username: string;
  password: string;
  /** Who the login acts for, in words (village, household, cooperative). */
  scope: string;
}

/** A login to create: the user's fields, and its scope in words. */
interface LoginSpec {
  role: DemoLogin['role'];
  username: string;
  name?: string;
  scope: string;
  villageId?: string;
  householdId?: string;
  cooperativeId?: string;
  townshipId?: string;
  volunteerId?: string;
}

export interface DemoLoginsInput {
  /** The county's and the township's names, for the scopes. */
  county: string;
  township: string;
  villages: VillageView[];
  households: HouseholdView[];
  cooperativeId: string;
  volunteerOfHousehold: ReadonlyMap<string, string>;
}

/** A random password of 16 URL-safe characters (96 bits). */
const demoPassword = (): string => randomBytes(12).toString('base64url');

/** Runs `fn` over `items` with at most `limit` in flight, keeping the order of results. */
async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** The `nn` of a village's demo usernames: its place in the list, from 01. */
const villageNo = (i: number): string => String(i + 1).padStart(2, '0');

/** A village's logins: its clerk, supervisor and council, and its first households. */
function villageSpecs(input: DemoLoginsInput, v: VillageView, i: number): LoginSpec[] {
  const nn = villageNo(i);
  const specs: LoginSpec[] = [
    {
      role: 'clerk',
      username: `demo-clerk-${nn}`,
      scope: `${v.name}（${v.code}）村文书`,
      villageId: v.id,
    },
    {
      role: 'supervisor',
      username: `demo-supervisor-${nn}`,
      scope: `${v.name}（${v.code}）监督运营`,
      villageId: v.id,
    },
  ];
  for (let k = 1; k <= COUNCIL_PER_VILLAGE; k++) {
    specs.push({
      role: 'council',
      username: `demo-council-${nn}-${k}`,
      scope: `${v.name}（${v.code}）道德评议会成员`,
      villageId: v.id,
    });
  }
  for (const h of input.households
    .filter((x) => x.villageId === v.id)
    .slice(0, HOUSEHOLD_LOGINS_PER_VILLAGE)) {
    const volunteerId = input.volunteerOfHousehold.get(h.id);
    specs.push({
      role: 'household',
      username: `demo-household-${h.cardNo.slice(3)}`,
      scope: `${v.name} 户主 ${h.head}（卡号 ${h.cardNo}）${volunteerId ? '，志愿者' : ''}`,
      householdId: h.id,
      ...(volunteerId ? { volunteerId } : {}),
    });
  }
  return specs;
}

/** Every demo login, in the order they are printed: county, township, villages, officer. */
function loginSpecs(input: DemoLoginsInput): LoginSpec[] {
  const { county, township, villages } = input;
  return [
    { role: 'admin', username: 'demo-admin', scope: `${county}新时代文明实践中心（县级管理员）` },
    {
      role: 'township',
      username: 'demo-township',
      scope: `${township}新时代文明实践所（乡镇：申诉复核、超时派单）`,
      townshipId: villages[0]!.townshipId!,
    },
    ...villages.flatMap((v, i) => villageSpecs(input, v, i)),
    {
      role: 'officer',
      username: 'demo-officer',
      name: '马建华',
      scope: `${county}农村信用合作联社 信贷员`,
      cooperativeId: input.cooperativeId,
    },
  ];
}

/** Creates the demo logins; returns them (with their passwords) and the user ids by username. */
export async function createLogins(
  kdfLog2N: number,
  input: DemoLoginsInput,
): Promise<{ logins: DemoLogin[]; ids: Map<string, string> }> {
  const ids = new Map<string, string>();
  const specs = loginSpecs(input);
  const logins = await mapLimit(specs, HASH_CONCURRENCY, async ({ scope, ...spec }) => {
    const password = demoPassword();
    const user = await createUser(undefined, { ...spec, password }, kdfLog2N);
    ids.set(spec.username, user.id);
    return { role: spec.role, username: spec.username, password, scope };
  });
  return { logins, ids };
}

/** User ids of each village's clerk and council members, by village id. */
export function staffByVillage(
  villages: readonly VillageView[],
  ids: ReadonlyMap<string, string>,
): Map<string, { clerk: string; council: string[] }> {
  return new Map(
    villages.map((v, i) => {
      const nn = villageNo(i);
      return [
        v.id,
        {
          clerk: ids.get(`demo-clerk-${nn}`)!,
          council: Array.from({ length: COUNCIL_PER_VILLAGE }, (_, k) =>
            ids.get(`demo-council-${nn}-${k + 1}`)!,
          ),
        },
      ];
    }),
  );
}
