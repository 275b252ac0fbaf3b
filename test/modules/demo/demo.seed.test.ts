import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import mongoose from 'mongoose';
import { generateHouseholds } from '../../../src/modules/demo/demo.names';
import {
  DEMO_MARKER_ID,
  DEMO_SOURCE_TYPE,
  formatCredentials,
  seedDemoCounty,
  type DemoCredentials,
} from '../../../src/modules/demo/demo.seed';
import { Household } from '../../../src/modules/households/households.model';
import { verifyChain } from '../../../src/modules/ledger/ledger.service';
import { User } from '../../../src/modules/users/users.model';
import { Village } from '../../../src/modules/villages/villages.model';
import { idNumberHasherFor } from '../../../src/modules/volunteers/id-number';
import { ctx } from '../../support/context';
import { expect } from '../../support/expect';
import { http, makeVillage, makeHousehold } from '../../support/factories';

const CJK_NAME = /^[\u4e00-\u9fff]{2,6}$/;

describe('demo county', () => {
  describe('generateHouseholds', () => {
    it('gives the same households for the same seed and other households for another seed', () => {
      expect(generateHouseholds(7, 50)).to.deep.equal(generateHouseholds(7, 50));
      expect(generateHouseholds(7, 50)).to.not.deep.equal(generateHouseholds(8, 50));
    });

    it('gives plausible Chinese names: a head, no head among its own members, no member twice', () => {
      const households = generateHouseholds(20240601, 1000);
      for (const h of households) {
        expect(h.head).to.match(CJK_NAME);
        for (const m of h.members) expect(m).to.match(CJK_NAME);
        expect(h.members).to.not.include(h.head);
        expect(new Set(h.members).size).to.equal(h.members.length);
        expect(h.members.length).to.be.at.most(6);
      }
      // Varied enough to look like a village, not a test fixture.
      expect(new Set(households.map((h) => h.head)).size).to.be.above(300);
    });
  });

  describe('seedDemoCounty', () => {
    let credentials: DemoCredentials;
    const file = () => path.join(ctx().dataDir, 'demo-credentials.txt');

    before(async function () {
      this.timeout(120_000);
      // Two starters at once (e.g. two `npm start` on one database): the marker lets one through.
      const results = await Promise.all([
        seedDemoCounty({
          kdfLog2N: ctx().config.passwordKdfLog2N,
          idHasher: idNumberHasherFor(ctx().config),
          credentialsFile: file(),
        }),
        seedDemoCounty({
          kdfLog2N: ctx().config.passwordKdfLog2N,
          idHasher: idNumberHasherFor(ctx().config),
          credentialsFile: file(),
        }),
      ]);
      const seeded = results.filter((r): r is DemoCredentials => r !== undefined);
      expect(seeded, 'exactly one of two concurrent seeds runs').to.have.length(1);
      credentials = seeded[0]!;
    });

    it('runs once per database: later calls return undefined and create nothing', async () => {
      const before = await Promise.all([
        Village.countDocuments(),
        Household.countDocuments(),
        User.countDocuments(),
      ]);
      expect(
        await seedDemoCounty({
          kdfLog2N: ctx().config.passwordKdfLog2N,
          idHasher: idNumberHasherFor(ctx().config),
        }),
      ).to.equal(undefined);
      expect(
        await Promise.all([
          Village.countDocuments(),
          Household.countDocuments(),
          User.countDocuments(),
        ]),
      ).to.deep.equal(before);
      const marker = await mongoose.connection
        .db!.collection<{ _id: string; status: string }>('meta')
        .findOne({ _id: DEMO_MARKER_ID });
      expect(marker?.status).to.equal('done');
    });

    it('creates three villages of one county and about a hundred households with DM- cards, each once', async () => {
      const villages = await Village.find({ code: /^DEMO-/ }).lean();
      expect(villages.map((v) => v.code).sort()).to.deep.equal(['DEMO-01', 'DEMO-02', 'DEMO-03']);
      expect(new Set(villages.map((v) => v.county)).size).to.equal(1);
      const households = await Household.find({ cardNo: /^DM-/ }).lean();
      expect(households).to.have.length(100);
      expect(credentials.households).to.equal(100);
      expect(new Set(households.map((h) => h.cardNo)).size).to.equal(100);
      const villageIds = new Set(villages.map((v) => v._id.toHexString()));
      for (const h of households) {
        expect(villageIds.has(h.villageId)).to.equal(true);
        expect(h.head).to.match(CJK_NAME);
      }
      expect(credentials.villages.map((v) => v.households).reduce((a, b) => a + b)).to.equal(100);
    });

    it('creates a login of every role, and every one of them signs in', async function () {
      this.timeout(60_000);
      const roles = new Set(credentials.logins.map((l) => l.role));
      expect([...roles].sort()).to.deep.equal([
        'admin',
        'clerk',
        'council',
        'household',
        'officer',
        'supervisor',
        'township',
      ]);
      expect(credentials.logins.filter((l) => l.role === 'council')).to.have.length(9);
      for (const l of credentials.logins) {
        const res = await http()
          .post('/v1/auth/token')
          .send({ grantType: 'password', username: l.username, password: l.password });
        expect(res.status, `${l.username}: ${JSON.stringify(res.body)}`).to.equal(200);
      }
      const terminal = await http().post('/v1/auth/token').send({
        grantType: 'client_credentials',
        clientId: credentials.terminal.clientId,
        clientSecret: credentials.terminal.clientSecret,
      });
      expect(terminal.status, JSON.stringify(terminal.body)).to.equal(200);
      // The first village's station screen opens its boards with the printed board link.
      const month = new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 7);
      const screen = await http()
        .get(`/v1/board-display?month=${month}`)
        .set('Board-Link', credentials.boardLink.secret);
      expect(screen.status, JSON.stringify(screen.body)).to.equal(200);
      expect(screen.body).to.include({
        villageName: credentials.villages[0]!.name,
        label: '村部大厅',
      });
    });

    it('posts initial points through the ledger: every chain verifies and a household login sees its balance', async function () {
      const households = await Household.find({ cardNo: /^DM-/ }).lean();
      // A budget by work (about 40 look-ups per chain), not by wall time: 2 s per household.
      this.timeout(60_000 + households.length * 2_000);
      // A few chains at a time: each verification is a run of `_id` look-ups, mostly waiting.
      const problems: unknown[] = [];
      let next = 0;
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (next < households.length) {
            const h = households[next++]!;
            const problem = await verifyChain(h._id.toHexString());
            if (problem) problems.push(problem);
          }
        }),
      );
      expect(problems).to.deep.equal([]);
      const login = credentials.logins.find((l) => l.role === 'household')!;
      const token = await http()
        .post('/v1/auth/token')
        .send({ grantType: 'password', username: login.username, password: login.password });
      const user = await User.findOne({ username: login.username }).lean();
      const account = await http()
        .get(`/v1/households/${user!.householdId}/account`)
        .set({ Authorization: `Bearer ${token.body.accessToken}` });
      expect(account.status).to.equal(200);
      expect(account.body.spendable).to.be.above(0);
      expect(account.body.merit).to.be.at.least(account.body.spendable);
      const posted = await mongoose.connection
        .db!.collection('ledger_entries')
        .find({ sourceType: DEMO_SOURCE_TYPE }, { projection: { householdId: 1 } })
        .toArray();
      const withPoints = new Set(posted.map((e) => e.householdId as string)).size;
      expect(posted).to.have.length(credentials.entries);
      expect(withPoints).to.equal(100);
      expect(credentials.entries).to.be.at.least(100);
    });

    it('sets up the volunteer service: a menu of 8 categories and 46 items, volunteers, teams, and orders at every step with the rated ones filed as submissions', async () => {
      const login = async (username: string) => {
        const l = credentials.logins.find((x) => x.username === username)!;
        const res = await http()
          .post('/v1/auth/token')
          .send({ grantType: 'password', username, password: l.password });
        return { Authorization: `Bearer ${res.body.accessToken}` };
      };
      const clerk = await login('demo-clerk-01');
      const menu = await http().get('/v1/service-menu').set(clerk);
      expect(menu.status, JSON.stringify(menu.body)).to.equal(200);
      expect(menu.body.categories).to.have.length(8);
      expect(menu.body.categories.flatMap((c: { items: unknown[] }) => c.items)).to.have.length(46);
      expect(credentials.volunteerService).to.deep.equal({
        volunteers: 10,
        teams: 5,
        orders: 5,
        menuItems: 46,
      });
      const orders = await http().get('/v1/service-orders').set(clerk);
      expect(orders.body.items.map((o: { status: string }) => o.status).sort()).to.deep.equal([
        'accepted',
        'dispatched',
        'ordered',
        'rated',
      ]);
      const rated = orders.body.items.find((o: { status: string }) => o.status === 'rated');
      const detail = await http().get(`/v1/service-orders/${rated.id}`).set(clerk);
      // Two volunteers with a household get a submission each; the teacher from outside only hours.
      expect(
        detail.body.submissions.map((x: { submissionId: string | null }) =>
          Boolean(x.submissionId),
        ),
      ).to.deep.equal([true, true]);
      const volunteer = await http()
        .get(`/v1/volunteers/${detail.body.hours[2].volunteerId}/hours`)
        .set(clerk);
      expect(volunteer.body.total).to.equal(1.5);
      const teams = await http().get('/v1/teams').set(clerk);
      expect(teams.body.items.map((t: { level: string }) => t.level).sort()).to.deep.equal([
        'county',
        'township',
        'village',
        'village',
      ]);
      const township = await login('demo-township');
      expect(
        (await http().get('/v1/townships').set(township)).body.items[0].villageIds,
      ).to.have.length(3);
      const supervisor = await login('demo-supervisor-01');
      expect(
        (await http().get(`/v1/submissions?villageId=${detail.body.villageId}`).set(supervisor))
          .status,
      ).to.equal(200);
      const household = await User.findOne({ username: 'demo-household-0001' }).lean();
      expect(household?.volunteerId, 'the first household login belongs to a volunteer').to.be.a(
        'string',
      );
    });

    it('keeps reach: a demo clerk gets 404 for a household of another village', async () => {
      const clerk = credentials.logins.find((l) => l.username === 'demo-clerk-01')!;
      const token = await http()
        .post('/v1/auth/token')
        .send({ grantType: 'password', username: clerk.username, password: clerk.password });
      const elsewhere = await makeHousehold((await makeVillage()).id);
      const res = await http()
        .get(`/v1/households/${elsewhere.id}`)
        .set({ Authorization: `Bearer ${token.body.accessToken}` });
      expect(res.status).to.equal(404);
    });

    it('writes the credentials to a file only its owner can read, and formatCredentials prints every secret', () => {
      const text = readFileSync(file(), 'utf8');
      expect(statSync(file()).mode & 0o777).to.equal(0o600);
      expect(text).to.equal(formatCredentials(credentials));
      for (const l of credentials.logins) {
        expect(text).to.contain(l.username);
        expect(text).to.contain(l.password);
      }
      expect(text).to.contain(credentials.terminal.clientId);
      expect(text).to.contain(credentials.terminal.clientSecret);
      expect(text).to.contain(`/app/display#${credentials.boardLink.secret}`);
    });
  });
});
