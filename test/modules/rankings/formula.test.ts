/** The evaluation index (考评指数) as a pure function: table tests of every component and the ranking. */
import { expect } from '../../support/expect';
import {
  indexOf,
  median,
  rankUnits,
  speedScore,
  starsScore,
  WEIGHTS,
  type UnitMetrics,
} from '../../../src/modules/rankings/rankings.formula';

const unit = (id: string, m: Partial<UnitMetrics> = {}): UnitMetrics => ({
  id,
  name: id,
  ordersCompleted: 0,
  averageStars: null,
  takeTimeHours: null,
  hoursPerResident: null,
  activeHouseholdShare: null,
  pointsAwarded: 0,
  ...m,
});

describe('rankings formula (pure)', () => {
  it('weights add up to 100 for stations and for teams', () => {
    for (const w of Object.values(WEIGHTS))
      expect(Object.values(w as Record<string, number>).reduce((a, b) => a + b, 0)).to.equal(100);
  });

  const SPEED: [number | null, number][] = [
    [null, 0],
    [0, 1],
    [24, 0.5],
    [72, 0.25],
    [-5, 1],
  ];
  for (const [hours, score] of SPEED)
    it(`speed: taken after ${hours} h scores ${score}`, () =>
      expect(speedScore(hours)).to.equal(score));

  const STARS: [number | null, number][] = [
    [null, 0],
    [1, 0],
    [3, 0.5],
    [5, 1],
  ];
  for (const [stars, score] of STARS)
    it(`stars: an average of ${stars} scores ${score}`, () =>
      expect(starsScore(stars)).to.equal(score));

  const INDEX: {
    name: string;
    u: Partial<UnitMetrics>;
    peers: Partial<UnitMetrics>[];
    level: 'village' | 'team';
    index: number;
  }[] = [
    { name: 'a station with nothing', u: {}, peers: [], level: 'village', index: 0 },
    {
      name: 'the best station in every respect',
      u: {
        ordersCompleted: 10,
        averageStars: 5,
        takeTimeHours: 0,
        hoursPerResident: 2,
        activeHouseholdShare: 1,
        pointsAwarded: 300,
      },
      peers: [{ ordersCompleted: 5, hoursPerResident: 1, pointsAwarded: 100 }],
      level: 'village',
      index: 100,
    },
    {
      name: 'half the best orders, 4 stars, taken in a day, half the hours, 40% active, a third of the points',
      u: {
        ordersCompleted: 5,
        averageStars: 4,
        takeTimeHours: 24,
        hoursPerResident: 1,
        activeHouseholdShare: 0.4,
        pointsAwarded: 100,
      },
      peers: [{ ordersCompleted: 10, hoursPerResident: 2, pointsAwarded: 300 }],
      level: 'village',
      // 25·0.5 + 20·0.75 + 15·0.5 + 15·0.5 + 15·0.4 + 10·(1/3) = 12.5 + 15 + 7.5 + 7.5 + 6 + 3.333 = 51.8
      index: 51.8,
    },
    {
      name: 'a team: hours and active share do not count',
      u: {
        ordersCompleted: 4,
        averageStars: 5,
        takeTimeHours: 0,
        hoursPerResident: 9,
        activeHouseholdShare: 1,
        pointsAwarded: 0,
      },
      peers: [{ ordersCompleted: 8, pointsAwarded: 50 }],
      level: 'team',
      // 40·0.5 + 30·1 + 20·1 + 10·0 = 70
      index: 70,
    },
  ];
  for (const row of INDEX) {
    it(`index: ${row.name} → ${row.index}`, () => {
      const u = unit('u', row.u);
      const peers = [u, ...row.peers.map((p, i) => unit(`p${i}`, p))];
      expect(indexOf(u, peers, row.level)).to.equal(row.index);
    });
  }

  it('ranks by index; equal indexes share a rank (1, 2, 2, 4) and are listed by orders, then id', () => {
    const ranked = rankUnits(
      [
        unit('c', { ordersCompleted: 2, averageStars: 5 }),
        unit('a', { ordersCompleted: 4, averageStars: 5 }),
        unit('d', { ordersCompleted: 2, averageStars: 5 }),
        unit('b', { ordersCompleted: 1 }),
      ],
      'village',
    );
    expect(ranked.map((r) => [r.id, r.rank])).to.deep.equal([
      ['a', 1],
      ['c', 2],
      ['d', 2],
      ['b', 4],
    ]);
    expect(ranked[1]!.index).to.equal(ranked[2]!.index);
  });

  it('gives the same ranking whatever order the units come in', () => {
    const units = Array.from({ length: 12 }, (_, i) =>
      unit(`u${i}`, {
        ordersCompleted: i % 4,
        averageStars: 1 + (i % 5),
        pointsAwarded: (i * 7) % 30,
        takeTimeHours: i,
      }),
    );
    expect(rankUnits([...units].reverse(), 'village')).to.deep.equal(rankUnits(units, 'village'));
  });

  it('median of none, one, an odd and an even count', () => {
    expect(median([])).to.equal(null);
    expect(median([3])).to.equal(3);
    expect(median([5, 1, 3])).to.equal(3);
    expect(median([4, 1, 3, 2])).to.equal(2.5);
  });
});
