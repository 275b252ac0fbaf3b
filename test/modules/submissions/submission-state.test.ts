/** The submission state machine as a pure function: tables of event histories → state. */
import { expect } from '../../support/expect';
import {
  deriveState,
  isRejectingMajority,
  slots,
  type StateEvent,
} from '../../../src/modules/submissions/submission-state';

const T0 = new Date('2026-03-01T00:00:00Z');
const at = (s: number) => new Date(T0.getTime() + s * 1000);
let n = 0;
const ev = (e: Omit<StateEvent, 'id' | 'at'> & { at?: Date }): StateEvent => ({
  id: `e${++n}`,
  at: e.at ?? T0,
  ...e,
});
const vote = (round: number, by: string, decision: 'approve' | 'reject' = 'approve') =>
  ev({ slot: slots.vote(round, by), type: 'vote', round, by, decision });
const notice = (round: number, endsS: number) =>
  ev({ slot: slots.decision(round), type: 'notice_started', round, noticeEndsAt: at(endsS) });
const objected = (round: number) =>
  ev({ slot: slots.close(round), type: 'objected', round, by: 'h1' });
const ended = (round: number) => ev({ slot: slots.close(round), type: 'notice_ended', round });
const posted = () =>
  ev({
    slot: slots.posted,
    type: 'posted',
    entries: [{ householdId: 'h', seq: 1, points: -20, spendableDelta: -5, meritDelta: -20 }],
  });
const filed = ev({ slot: slots.filed, type: 'filed', by: 'clerk' });

const base = { quorum: 2, eligibleVoters: 3, capsApply: false, now: at(0) };

describe('submission state machine (pure)', () => {
  const table: {
    name: string;
    events: StateEvent[];
    input?: Partial<typeof base>;
    expect: Record<string, unknown>;
  }[] = [
    {
      name: 'just filed: in review, round 1, nothing due',
      events: [filed],
      expect: { status: 'in_review', round: 1, approvals: 0, next: undefined },
    },
    {
      name: 'one approval of two needed: still in review',
      events: [filed, vote(1, 'a')],
      expect: { status: 'in_review', approvals: 1, next: undefined },
    },
    {
      name: 'quorum of approvals without a decision: the decision is due',
      events: [filed, vote(1, 'a'), vote(1, 'b')],
      expect: { status: 'in_review', next: 'decide_notice' },
    },
    {
      name: 'one reject of three eligible: no majority yet',
      events: [filed, vote(1, 'a', 'reject')],
      expect: { status: 'in_review', rejections: 1, next: undefined },
    },
    {
      name: 'two rejects of three eligible: rejection is due',
      events: [filed, vote(1, 'a', 'reject'), vote(1, 'b', 'reject')],
      expect: { next: 'decide_reject' },
    },
    {
      name: 'two rejects of four eligible is not a majority',
      events: [filed, vote(1, 'a', 'reject'), vote(1, 'b', 'reject')],
      input: { eligibleVoters: 4, quorum: 3 },
      expect: { next: undefined },
    },
    {
      name: 'rejected',
      events: [
        filed,
        vote(1, 'a', 'reject'),
        vote(1, 'b', 'reject'),
        ev({ slot: slots.decision(1), type: 'rejected', round: 1 }),
      ],
      expect: { status: 'rejected', next: undefined },
    },
    {
      name: 'rejected with caps: the release is due',
      events: [filed, ev({ slot: slots.decision(1), type: 'rejected', round: 1 })],
      input: { capsApply: true },
      expect: { status: 'rejected', next: 'release_caps' },
    },
    {
      name: 'in notice before it ends',
      events: [filed, vote(1, 'a'), vote(1, 'b'), notice(1, 60)],
      input: { now: at(59) },
      expect: { status: 'in_notice', next: undefined },
    },
    {
      name: 'in notice at its end: closing is due',
      events: [filed, vote(1, 'a'), vote(1, 'b'), notice(1, 60)],
      input: { now: at(60) },
      expect: { status: 'in_notice', next: 'close_notice' },
    },
    {
      name: 'notice ended, not yet posted: posting is due, still shown in notice',
      events: [filed, notice(1, 60), ended(1)],
      input: { now: at(61) },
      expect: { status: 'in_notice', noticeEnded: true, next: 'post' },
    },
    {
      name: 'posted',
      events: [filed, notice(1, 60), ended(1), posted()],
      input: { now: at(61) },
      expect: { status: 'posted', next: undefined },
    },
    {
      name: 'an objection opens round 2: back in review with no votes',
      events: [filed, vote(1, 'a'), vote(1, 'b'), notice(1, 60), objected(1)],
      input: { now: at(70) },
      expect: { status: 'in_review', round: 2, approvals: 0, next: undefined },
    },
    {
      name: 'round 1 votes do not count in round 2',
      events: [filed, vote(1, 'a'), vote(1, 'b'), notice(1, 60), objected(1), vote(2, 'a')],
      expect: { round: 2, approvals: 1, next: undefined },
    },
    {
      name: "round 2 quorum: round 2's decision is due",
      events: [filed, notice(1, 60), objected(1), vote(2, 'a'), vote(2, 'c')],
      expect: { round: 2, next: 'decide_notice' },
    },
    {
      name: "round 1's notice end does not close round 2's review",
      events: [filed, notice(1, 60), objected(1)],
      input: { now: at(1000) },
      expect: { status: 'in_review', round: 2, next: undefined },
    },
    {
      name: 'two objections: round 3',
      events: [filed, notice(1, 60), objected(1), notice(2, 200), objected(2)],
      expect: { round: 3, status: 'in_review' },
    },
    {
      name: 'an upheld appeal without its reversal: the reversal is due',
      events: [
        filed,
        notice(1, 0),
        ended(1),
        posted(),
        ev({ slot: slots.appeal, type: 'appealed', by: 'h' }),
        ev({ slot: slots.appealDecision, type: 'appeal_upheld', by: 'adm' }),
      ],
      expect: { status: 'posted', next: 'reverse' },
    },
    {
      name: 'a dismissed appeal: nothing due',
      events: [
        filed,
        notice(1, 0),
        ended(1),
        posted(),
        ev({ slot: slots.appeal, type: 'appealed', by: 'h' }),
        ev({ slot: slots.appealDecision, type: 'appeal_dismissed', by: 'adm' }),
      ],
      expect: { status: 'posted', next: undefined },
    },
  ];
  for (const row of table) {
    it(row.name, () => {
      const state = deriveState(row.events, { ...base, ...row.input });
      for (const [k, v] of Object.entries(row.expect))
        expect((state as unknown as Record<string, unknown>)[k], k).to.deep.equal(v);
    });
  }

  it('gives the same state whatever order the events are read in', () => {
    const events = [
      filed,
      vote(1, 'a'),
      vote(1, 'b'),
      notice(1, 60),
      objected(1),
      vote(2, 'a'),
      vote(2, 'c', 'reject'),
    ];
    const expected = deriveState(events, base);
    for (let i = 0; i < 50; i++) {
      const shuffled = [...events].sort(() => Math.random() - 0.5);
      expect(deriveState(shuffled, base)).to.deep.equal(expected);
    }
  });

  it('counts a majority strictly: more than half of those entitled to vote', () => {
    expect([
      isRejectingMajority(1, 1),
      isRejectingMajority(1, 2),
      isRejectingMajority(2, 3),
      isRejectingMajority(2, 4),
      isRejectingMajority(3, 5),
      isRejectingMajority(0, 0),
    ]).to.deep.equal([true, false, true, false, true, false]);
  });

  it('reports the appeal and its reversal once written', () => {
    const events = [
      filed,
      notice(1, 0),
      ended(1),
      posted(),
      ev({ slot: slots.appeal, type: 'appealed', by: 'h' }),
      ev({ slot: slots.appealDecision, type: 'appeal_upheld', by: 'adm' }),
      ev({
        slot: slots.reversal,
        type: 'reversed',
        entries: [{ householdId: 'h', seq: 2, points: 20, spendableDelta: 5, meritDelta: 20 }],
      }),
    ];
    const state = deriveState(events, base);
    expect(state.appeal).to.include({ status: 'upheld', reversed: true });
    expect(state.next).to.equal(undefined);
  });
});
