/**
 * The service-order state machine as a pure function: every status, every step that is due, and
 * every command refused out of order, from recorded events alone (no database).
 */
import { expect } from '../../support/expect';
import {
  deriveOrderState,
  orderSlots,
  refuseCommand,
  type OrderEvent,
  type OrderStatus,
  type OrderStep,
  type OrderCommand,
} from '../../../src/modules/service-orders/service-order-state';

const T0 = Date.parse('2026-03-01T00:00:00Z');
const at = (minutes: number) => new Date(T0 + minutes * 60_000);
const timing = (nowMinutes: number) => ({
  now: at(nowMinutes),
  remindAt: at(60),
  timeoutAt: at(120),
});

const ordered: OrderEvent = { slot: orderSlots.ordered, type: 'ordered', at: at(0) };
const dispatched = (round = 1, teamId = 'team-a'): OrderEvent => ({
  slot: orderSlots.dispatch(round),
  type: 'dispatched',
  round,
  teamId,
  at: at(10 + 100 * (round - 1)),
});
const accepted = (round = 1): OrderEvent => ({
  slot: orderSlots.outcome(round),
  type: 'accepted',
  round,
  volunteerIds: ['v1', 'v2'],
  at: at(20 + 100 * (round - 1)),
});
const escalated: OrderEvent = {
  slot: orderSlots.outcome(1),
  type: 'escalated',
  round: 1,
  at: at(120),
};
const reminded: OrderEvent = { slot: orderSlots.reminder, type: 'reminded', at: at(60) };
const completed: OrderEvent = {
  slot: orderSlots.completed,
  type: 'completed',
  servedOn: '2026-03-01',
  hours: [
    { volunteerId: 'v1', hours: 2, householdId: 'h1', villageId: 'x' },
    { volunteerId: 'v2', hours: 1.5 },
  ],
  at: at(300),
};
const rated: OrderEvent = { slot: orderSlots.rated, type: 'rated', stars: 4, at: at(400) };
const hoursRecorded: OrderEvent = { slot: orderSlots.hours, type: 'hours_recorded', at: at(401) };
const filedV1: OrderEvent = {
  slot: orderSlots.filed('v1'),
  type: 'filed',
  volunteerId: 'v1',
  at: at(402),
};

interface Row {
  name: string;
  events: OrderEvent[];
  now: number;
  status: OrderStatus;
  next?: OrderStep;
  round?: number;
}

const ROWS: Row[] = [
  { name: 'just ordered', events: [ordered], now: 1, status: 'ordered' },
  {
    name: 'ordered, half the timeout gone: remind',
    events: [ordered],
    now: 60,
    status: 'ordered',
    next: 'remind',
  },
  { name: 'reminded, not yet timed out', events: [ordered, reminded], now: 90, status: 'ordered' },
  {
    name: 'the timeout passed: escalate (also without a reminder)',
    events: [ordered],
    now: 120,
    status: 'ordered',
    next: 'escalate',
  },
  {
    name: 'dispatched but not accepted in time: escalate',
    events: [ordered, dispatched()],
    now: 130,
    status: 'dispatched',
    next: 'escalate',
  },
  {
    name: 'escalated: round 2, waiting for the township',
    events: [ordered, dispatched(), escalated],
    now: 500,
    status: 'escalated',
    round: 2,
  },
  {
    name: 'escalated and dispatched again by the township',
    events: [ordered, dispatched(), escalated, dispatched(2, 'team-t')],
    now: 500,
    status: 'dispatched',
    round: 2,
  },
  {
    name: 'accepted in round 2: no second escalation',
    events: [ordered, escalated, dispatched(2), accepted(2)],
    now: 5000,
    status: 'accepted',
    round: 2,
  },
  {
    name: "round 1's dispatch after the escalation does not count",
    events: [ordered, escalated, dispatched(1)],
    now: 500,
    status: 'escalated',
    round: 2,
  },
  {
    name: 'accepted in time: no reminder, no escalation',
    events: [ordered, dispatched(), accepted()],
    now: 5000,
    status: 'accepted',
  },
  {
    name: 'completed',
    events: [ordered, dispatched(), accepted(), completed],
    now: 5000,
    status: 'completed',
  },
  {
    name: 'a completion without an acceptance is not counted',
    events: [ordered, dispatched(), completed],
    now: 30,
    status: 'dispatched',
  },
  {
    name: 'rated: record the hours first',
    events: [ordered, dispatched(), accepted(), completed, rated],
    now: 5000,
    status: 'rated',
    next: 'record_hours',
  },
  {
    name: 'rated, hours recorded: file for the volunteer with a household',
    events: [ordered, dispatched(), accepted(), completed, rated, hoursRecorded],
    now: 5000,
    status: 'rated',
    next: 'file',
  },
  {
    name: 'rated, everything done (the outsider gets hours only)',
    events: [ordered, dispatched(), accepted(), completed, rated, hoursRecorded, filedV1],
    now: 5000,
    status: 'rated',
  },
];

describe('service-order state machine (pure)', () => {
  for (const row of ROWS) {
    it(`${row.name} → ${row.status}${row.next ? `, next ${row.next}` : ''}`, () => {
      const s = deriveOrderState(row.events, timing(row.now));
      expect(s.status).to.equal(row.status);
      expect(s.next).to.equal(row.next);
      expect(s.round).to.equal(row.round ?? 1);
    });
  }

  it('reports the team, volunteers, hours and rating of a rated order, and who still needs a filing', () => {
    const s = deriveOrderState(
      [ordered, dispatched(), accepted(), completed, rated, hoursRecorded],
      timing(5000),
    );
    expect(s.teamId).to.equal('team-a');
    expect(s.volunteerIds).to.deep.equal(['v1', 'v2']);
    expect(s.hours.map((h) => h.hours)).to.deep.equal([2, 1.5]);
    expect(s.stars).to.equal(4);
    expect(s.servedOn).to.equal('2026-03-01');
    expect(s.unfiled.map((h) => h.volunteerId)).to.deep.equal(['v1']);
  });

  it('does not depend on the order the events are given in', () => {
    const events = [
      ordered,
      dispatched(),
      escalated,
      dispatched(2, 'team-t'),
      accepted(2),
      completed,
      rated,
    ];
    const a = deriveOrderState(events, timing(9000));
    const b = deriveOrderState([...events].reverse(), timing(9000));
    expect(a).to.deep.equal(b);
  });

  const COMMANDS: [OrderStatus, OrderCommand, boolean][] = [
    ['ordered', 'dispatch', true],
    ['ordered', 'accept', false],
    ['ordered', 'complete', false],
    ['ordered', 'rate', false],
    ['escalated', 'dispatch', true],
    ['escalated', 'accept', false],
    ['dispatched', 'dispatch', false],
    ['dispatched', 'accept', true],
    ['dispatched', 'complete', false],
    ['accepted', 'accept', false],
    ['accepted', 'complete', true],
    ['accepted', 'rate', false],
    ['completed', 'complete', false],
    ['completed', 'rate', true],
    ['rated', 'rate', false],
    ['rated', 'dispatch', false],
  ];
  for (const [status, command, allowed] of COMMANDS) {
    it(`${command} on an order ${status} is ${allowed ? 'allowed' : 'refused (409 conflict)'}`, () => {
      const why = refuseCommand({ status }, command);
      if (allowed) expect(why).to.equal(undefined);
      else expect(why).to.include(`The order is ${status}`);
    });
  }

  it('refuses to accept or dispatch an order whose timeout passed before the escalation was recorded', () => {
    expect(refuseCommand({ status: 'dispatched', next: 'escalate' }, 'accept')).to.match(
      /township/,
    );
    expect(refuseCommand({ status: 'ordered', next: 'escalate' }, 'dispatch')).to.match(/township/);
  });
});
