/**
 * The demo county's volunteer service: the service menu (8 categories, 46 items), volunteers
 * (household members, a teacher from outside the village, a township doctor), teams at village,
 * township and county level, and a few orders at every step of the loop, one of them rated (so
 * the council has submissions from volunteer hours to vote on). Everything goes through the
 * module services, as real data would; demo ID numbers are generated with a valid check digit
 * under a region code no real county has (629901) and are stored only as keyed hashes.
 */
import { todayUtc } from '../../platform/clock';
import type { Principal } from '../../platform/principal';
import type { HouseholdView } from '../households/households.service';
import { seedDemoMenu } from '../service-menu/service-menu.service';
import {
  acceptOrder,
  completeOrder,
  createOrder,
  dispatchOrder,
  rateOrder,
} from '../service-orders/service-orders.service';
import { addMember, createTeam } from '../teams/teams.service';
import type { VillageView } from '../villages/villages.service';
import { idCheckChar, type IdNumberHasher } from '../volunteers/id-number';
import { registerVolunteer, type VolunteerView } from '../volunteers/volunteers.service';
import { between, type Rng } from './demo.names';

/** A region code that no real county has (62 = Gansu), so a demo number is never a real one. */
const DEMO_REGION = '629901';
const DEMO_ACTOR = 'demo-seed';

export interface DemoVolunteerService {
  volunteers: number;
  teams: number;
  orders: number;
  menuItems: number;
  /** The volunteer each of these households' logins belongs to (the household's head). */
  volunteerOfHousehold: Map<string, string>;
}

/** A demo resident ID number with a valid check digit. */
export function demoIdNumber(rng: Rng, serial: number): string {
  const birth = `${between(rng, 1962, 2002)}${String(between(rng, 1, 12)).padStart(2, '0')}${String(between(rng, 1, 28)).padStart(2, '0')}`;
  const first17 = `${DEMO_REGION}${birth}${String(serial % 1000).padStart(3, '0')}`;
  return `${first17}${idCheckChar(first17)}`;
}

const clerkOf = (villageId: string): Principal => ({
  id: DEMO_ACTOR,
  kind: 'person',
  role: 'clerk',
  villageId,
});

/** The demo's actors: the county office, the township station, and the villages it seeds. */
interface DemoScene {
  v1: VillageView;
  v2: VillageView;
  households: HouseholdView[];
  admin: Principal;
  township: Principal;
}

/** The volunteers, in the groups the teams and orders draw on. */
interface DemoVolunteers {
  /** Heads of households of the first village (红星村) and the second (柳树湾村). */
  red: VolunteerView[];
  willow: VolunteerView[];
  /** A teacher from outside the village, and a township doctor. */
  teacher: VolunteerView;
  doctor: VolunteerView;
  count: number;
  volunteerOfHousehold: Map<string, string>;
}

// A small demo (seed-demo --households 3) has a household or two per village: pick round.
const at = <T>(list: readonly T[], i: number): T => list[i % list.length]!;
const uniq = (vs: VolunteerView[]) => [...new Map(vs.map((v) => [v.id, v])).values()];

/** Volunteers: the first four heads of household of two villages, a teacher and a doctor. */
async function seedVolunteers(
  scene: DemoScene,
  hasher: IdNumberHasher,
  rng: Rng,
): Promise<DemoVolunteers> {
  let serial = 0;
  const register = (
    p: Principal,
    name: string,
    extra: { householdId?: string; phone?: string } = {},
  ) => registerVolunteer(p, { name, idNumber: demoIdNumber(rng, ++serial), ...extra }, hasher);
  const heads = (v: VillageView) =>
    scene.households.filter((h) => h.villageId === v.id).slice(0, 4);
  const volunteerOfHousehold = new Map<string, string>();
  const fromHouseholds = async (v: VillageView): Promise<VolunteerView[]> => {
    const out: VolunteerView[] = [];
    for (const h of heads(v)) {
      const vol = await register(clerkOf(v.id), h.head, {
        householdId: h.id,
        phone: `1390937${String(1000 + serial).slice(-4)}`,
      });
      volunteerOfHousehold.set(h.id, vol.id);
      out.push(vol);
    }
    return out;
  };
  const red = await fromHouseholds(scene.v1);
  const willow = await fromHouseholds(scene.v2);
  const teacher = await register(clerkOf(scene.v1.id), '李文华');
  const doctor = await register(scene.township, '马晓燕');
  return { red, willow, teacher, doctor, count: serial, volunteerOfHousehold };
}

/** Teams at village, township and county level; returns the three the orders go to. */
async function seedTeams(scene: DemoScene, vols: DemoVolunteers) {
  const { v1, v2, admin, township } = scene;
  const { red, willow, teacher, doctor } = vols;
  const team = async (
    p: Principal,
    name: string,
    category: string,
    level: 'village' | 'township' | 'county',
    members: VolunteerView[],
    where: { villageId?: string; countyId?: string } = {},
  ) => {
    const t = await createTeam(p, { name, category, level, ...where });
    for (const m of members) await addMember(p, t.id, m.id);
    return t;
  };
  const care = await team(
    clerkOf(v1.id),
    `${v1.name}扶贫帮困志愿服务队`,
    'care',
    'village',
    uniq([...red.slice(0, 3), teacher]),
    { villageId: v1.id },
  );
  const tutoring = await team(
    clerkOf(v1.id),
    `${v1.name}教育辅导志愿服务队`,
    'tutoring',
    'village',
    uniq([teacher, at(red, 3)]),
    { villageId: v1.id },
  );
  const green = await team(
    clerkOf(v2.id),
    `${v2.name}生态环保志愿服务队`,
    'environment',
    'village',
    willow,
    { villageId: v2.id },
  );
  await team(
    township,
    '松岭镇医疗健康志愿服务队',
    'health',
    'township',
    uniq([doctor, at(red, 0)]),
  );
  await team(admin, '祁丰县法律服务志愿服务队', 'legal', 'county', [at(willow, 0)], {
    countyId: v1.countyId!,
  });
  return { care, tutoring, green };
}

/** Orders at every step of the loop (点单 → 派单 → 接单 → 评单), two of them rated. */
async function seedOrders(
  scene: DemoScene,
  vols: DemoVolunteers,
  teams: Awaited<ReturnType<typeof seedTeams>>,
): Promise<void> {
  const { v1, v2 } = scene;
  const { red, willow, teacher } = vols;
  const soon = new Date(Date.parse(`${todayUtc()}T00:00:00Z`) + 3 * 24 * 3600_000)
    .toISOString()
    .slice(0, 10);
  // Requesters: the households after the volunteers' (any household may order, its own too).
  const in1 = scene.households.filter((h) => h.villageId === v1.id);
  const in2 = scene.households.filter((h) => h.villageId === v2.id);
  const requesters1 = [0, 1, 2, 3].map((i) => at(in1, 4 + i));
  const requesters2 = [at(in2, 4)];
  const order = (v: VillageView, h: HouseholdView, itemCode: string, detail: string) =>
    createOrder(clerkOf(v.id), { householdId: h.id, itemCode, detail, wantedBy: soon });

  const rated = await order(
    v1,
    requesters1[0]!,
    'care-01',
    '家中老人独居，希望志愿者上门打扫卫生、陪同聊天。',
  );
  await dispatchOrder(clerkOf(v1.id), rated.id, { teamId: teams.care.id });
  const crew = uniq([at(red, 0), at(red, 1), teacher]);
  await acceptOrder(clerkOf(v1.id), rated.id, { volunteerIds: crew.map((v) => v.id) });
  await completeOrder(clerkOf(v1.id), rated.id, {
    hours: crew.map((v) => ({ volunteerId: v.id, hours: v.id === teacher.id ? 1.5 : 2 })),
  });
  await rateOrder(clerkOf(v1.id), rated.id, { stars: 5, comment: '志愿者很热心，老人很满意。' });

  const accepted = await order(
    v1,
    requesters1[1]!,
    'care-04',
    '腿脚不便，请帮忙到镇上代购降压药。',
  );
  await dispatchOrder(clerkOf(v1.id), accepted.id, { teamId: teams.care.id });
  await acceptOrder(clerkOf(v1.id), accepted.id, { volunteerIds: [at(red, 2).id] });

  const dispatched = await order(
    v1,
    requesters1[2]!,
    'tutoring-01',
    '孩子上小学三年级，父母外出务工，需要周末辅导数学。',
  );
  await dispatchOrder(clerkOf(v1.id), dispatched.id, { teamId: teams.tutoring.id });

  await order(v1, requesters1[3]!, 'health-01', '希望组织义诊，村里老人多有高血压。');

  const cleanUp = await order(
    v2,
    requesters2[0]!,
    'environment-01',
    '村口河道边堆积垃圾，需要组织清理。',
  );
  await dispatchOrder(clerkOf(v2.id), cleanUp.id, { teamId: teams.green.id });
  await acceptOrder(clerkOf(v2.id), cleanUp.id, { volunteerIds: willow.map((w) => w.id) });
  await completeOrder(clerkOf(v2.id), cleanUp.id, {
    hours: willow.map((w) => ({ volunteerId: w.id, hours: 3 })),
  });
  await rateOrder(clerkOf(v2.id), cleanUp.id, { stars: 4 });
}

export async function seedDemoVolunteerService(opts: {
  villages: VillageView[];
  households: HouseholdView[];
  hasher: IdNumberHasher;
  rng: Rng;
}): Promise<DemoVolunteerService> {
  const [v1, v2] = opts.villages as [VillageView, VillageView, ...VillageView[]];
  await seedDemoMenu(v1.countyId!);
  const scene: DemoScene = {
    v1,
    v2,
    households: opts.households,
    admin: { id: DEMO_ACTOR, kind: 'person', role: 'admin' },
    township: {
      id: DEMO_ACTOR,
      kind: 'person',
      role: 'township',
      townshipId: v1.townshipId!,
      villageIds: opts.villages.map((v) => v.id),
    },
  };
  const vols = await seedVolunteers(scene, opts.hasher, opts.rng);
  const teams = await seedTeams(scene, vols);
  await seedOrders(scene, vols, teams);
  const { count, volunteerOfHousehold } = vols;
  return { volunteers: count, teams: 5, orders: 5, menuItems: 46, volunteerOfHousehold };
}
