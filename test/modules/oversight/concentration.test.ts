/**
 * Approver–recipient concentration (人情分): the pure function (table tests) and the report on
 * a seeded village, where one council member approved most awards of three related households,
 * beside a control village where approvals are spread: the first is flagged, the second not.
 */
import { expect } from '../../support/expect';
import {
  http,
  makeHousehold,
  makeUser,
  makeVillage,
  unique,
  type TestUser,
} from '../../support/factories';
import {
  concentrationOf,
  relatedGroups,
  type ConcentrationInput,
} from '../../../src/modules/oversight/concentration';
import { makeRule, voteVia } from '../submissions/scene';

const kin = (entries: [string, { lineage?: string; relatedHouseholdIds?: string[] }][]) =>
  new Map(
    entries.map(([h, k]) => [
      h,
      { lineage: k.lineage, relatedHouseholdIds: k.relatedHouseholdIds ?? [] },
    ]),
  );
const approvals = (memberId: string, households: string[]) =>
  households.map((householdId) => ({ memberId, householdId }));

describe('concentration (人情分)', () => {
  describe('the pure function', () => {
    it('groups households linked in the roster or sharing a lineage; a household alone is no group', () => {
      const groups = relatedGroups(
        kin([
          ['a', { relatedHouseholdIds: ['b'] }],
          ['c', { lineage: '王氏' }],
          ['d', { lineage: '王氏', relatedHouseholdIds: ['e'] }],
          ['f', { lineage: '李氏' }],
        ]),
      );
      expect(groups).to.deep.equal([
        ['a', 'b'],
        ['c', 'd', 'e'],
      ]);
    });

    const base = (over: Partial<ConcentrationInput>): ConcentrationInput => ({
      members: [{ id: 'A', householdId: 'hA' }, { id: 'B' }, { id: 'C' }],
      approvals: [],
      kinship: kin([
        ['hA', { lineage: '王氏' }],
        ['r1', { lineage: '王氏' }],
        ['r2', { lineage: '王氏' }],
        ['r3', { lineage: '王氏' }],
      ]),
      threshold: 0.6,
      minApprovals: 5,
      ...over,
    });
    const spread = ['o1', 'o2', 'o3', 'o4', 'o5', 'o6', 'o7', 'o8'];
    const ROWS: { name: string; input: ConcentrationInput; flagged: Record<string, string[]> }[] = [
      { name: 'nobody approved anything', input: base({}), flagged: { A: [], B: [], C: [] } },
      {
        name: 'A approves mostly its own lineage, the others elsewhere: A is flagged on kin, the group and the same few households',
        input: base({
          approvals: [
            ...approvals('A', ['r1', 'r2', 'r3', 'r1', 'r2', 'r3', 'r1', 'o1']),
            ...approvals('B', [...spread, 'r1', 'o2']),
            ...approvals('C', [...spread, 'r2', 'o3']),
          ],
        }),
        flagged: { A: ['kin', 'few_households', 'related_group'], B: [], C: [] },
      },
      {
        name: 'the same pattern under the minimum number of approvals is not flagged',
        input: base({
          approvals: [...approvals('A', ['r1', 'r2', 'r3', 'r1']), ...approvals('B', spread)],
        }),
        flagged: { A: [], B: [], C: [] },
      },
      {
        name: 'everyone approves the same active family: no one stands out, no flag',
        input: base({
          approvals: [
            ...approvals('A', ['r1', 'r2', 'r1', 'r2', 'r3', 'o1']),
            ...approvals('B', ['r1', 'r2', 'r1', 'r2', 'r3', 'o2']),
            ...approvals('C', ['r1', 'r2', 'r3', 'r1', 'r3', 'o3']),
          ],
        }),
        flagged: { A: [], B: [], C: [] },
      },
      {
        name: 'B has no household on record: no kin share, but the same few households can still flag',
        input: base({
          approvals: [
            ...approvals('B', ['o1', 'o1', 'o2', 'o2', 'o3', 'o3']),
            ...approvals('C', spread),
            ...approvals('A', spread),
          ],
        }),
        flagged: { A: [], B: ['few_households'], C: [] },
      },
    ];
    for (const row of ROWS) {
      it(row.name, () => {
        const out = concentrationOf(row.input);
        expect(Object.fromEntries(out.map((m) => [m.memberId, m.reasons]))).to.deep.equal(
          row.flagged,
        );
        for (const m of out) expect(m.flagged).to.equal(m.reasons.length > 0);
      });
    }

    it('reports the shares it decided by', () => {
      const [a] = concentrationOf(
        base({
          approvals: [
            ...approvals('A', ['r1', 'r2', 'r3', 'r1', 'o1']),
            ...approvals('B', ['o1', 'o2', 'o3', 'r1']),
          ],
        }),
      );
      expect(a!.approvals).to.equal(5);
      expect(a!.kin).to.deep.equal({
        householdIds: ['r1', 'r2', 'r3'],
        approvals: 4,
        share: 0.8,
        othersShare: 0.25,
        flagged: true,
      });
      expect(a!.topHouseholds).to.deep.equal([
        { householdId: 'r1', approvals: 2 },
        { householdId: 'o1', approvals: 1 },
        { householdId: 'r2', approvals: 1 },
      ]);
    });
  });

  describe('GET /v1/villages/:id/concentration', () => {
    interface Seeded {
      villageId: string;
      supervisor: TestUser;
      council: TestUser[];
    }

    /** A village with a council of three (member 0 of lineage 王氏), three related 王氏 households and eight others. */
    async function seedVillage(pattern: 'favouring' | 'spread'): Promise<Seeded> {
      const county = unique('县');
      const v = await makeVillage({
        county,
        township: unique('镇'),
        quorum: 2,
        noticePeriod: 'P7D',
      });
      const clerk = await makeUser('clerk', { villageId: v.id });
      const own = await makeHousehold(v.id, { head: '王德福' });
      const related = [
        await makeHousehold(v.id, { head: '王建国' }),
        await makeHousehold(v.id, { head: '王建军' }),
        await makeHousehold(v.id, { head: '王秀英' }),
      ];
      const others = [];
      for (let i = 0; i < 8; i++)
        others.push(await makeHousehold(v.id, { head: `李${'一二三四五六七八'[i]}` }));
      const put = (id: string, body: object) =>
        http().put(`/v1/households/${id}/kinship`).set(clerk.auth).send(body);
      expect((await put(own.id, { lineage: '王氏' })).status).to.equal(200);
      expect(
        (await put(related[0]!.id, { lineage: '王氏', relatedHouseholdIds: [related[1]!.id] }))
          .status,
      ).to.equal(200);
      await put(related[1]!.id, { relatedHouseholdIds: [related[2]!.id] });
      const council = [
        await makeUser('council', { villageId: v.id, householdId: own.id }),
        await makeUser('council', { villageId: v.id }),
        await makeUser('council', { villageId: v.id }),
      ];
      const rule = await makeRule({ points: 10, title: '孝老爱亲' });
      const award = async (householdId: string, by: [number, number]) => {
        const sub = await http()
          .post('/v1/submissions')
          .set(clerk.auth)
          .send({
            villageId: v.id,
            householdId,
            ruleCode: rule.code,
            occurredOn: new Date().toISOString().slice(0, 10),
            evidence: { text: '村民推荐' },
          });
        expect(sub.status, JSON.stringify(sub.body)).to.equal(201);
        for (const m of by) expect((await voteVia(sub.body.id, council[m]!)).status).to.equal(200);
      };
      const all = [...related, ...others];
      if (pattern === 'favouring') {
        for (let i = 0; i < 8; i++) await award(related[i % 3]!.id, [0, 1 + (i % 2)]);
        await award(others[0]!.id, [0, 1]);
        for (let i = 0; i < 12; i++) await award(others[i % 8]!.id, [1, 2]);
      } else {
        const pairs: [number, number][] = [
          [0, 1],
          [1, 2],
          [2, 0],
        ];
        for (let i = 0; i < 21; i++) await award(all[i % all.length]!.id, pairs[i % 3]!);
      }
      return {
        villageId: v.id,
        supervisor: await makeUser('supervisor', { villageId: v.id }),
        council,
      };
    }

    it('flags the member who approved most awards of three related households of their own lineage, and not a control village', async function () {
      this.timeout(180_000);
      const seeded = await seedVillage('favouring');
      const control = await seedVillage('spread');
      const report = await http()
        .get(`/v1/villages/${seeded.villageId}/concentration`)
        .set(seeded.supervisor.auth);
      expect(report.status, JSON.stringify(report.body)).to.equal(200);
      expect(report.body.flagged).to.equal(1);
      const byMember = new Map(
        report.body.members.map((m: { memberId: string }) => [m.memberId, m]),
      );
      const favouring = byMember.get(seeded.council[0]!.user.id) as {
        reasons: string[];
        approvals: number;
        relatedGroup: { share: number; householdIds: string[] };
      };
      expect(favouring.approvals).to.equal(9);
      expect(favouring.reasons).to.have.members(['kin', 'few_households', 'related_group']);
      expect(favouring.relatedGroup.share).to.be.at.least(0.8);
      for (const m of seeded.council.slice(1))
        expect((byMember.get(m.user.id) as { flagged: boolean }).flagged).to.equal(false);

      const clean = await http()
        .get(`/v1/villages/${control.villageId}/concentration`)
        .set(control.supervisor.auth);
      expect(
        clean.body.flagged,
        JSON.stringify(clean.body.members.map((m: { reasons: string[] }) => m.reasons)),
      ).to.equal(0);
      expect(clean.body.members.map((m: { approvals: number }) => m.approvals)).to.deep.equal([
        14, 14, 14,
      ]);

      // Who may read it: the village's supervisors, its township, the county office; not its council.
      expect(
        (
          await http()
            .get(`/v1/villages/${seeded.villageId}/concentration`)
            .set(seeded.council[1]!.auth)
        ).status,
      ).to.equal(403);
      expect(
        (
          await http()
            .get(`/v1/villages/${seeded.villageId}/concentration`)
            .set(control.supervisor.auth)
        ).status,
      ).to.equal(404);
    });
  });
});
