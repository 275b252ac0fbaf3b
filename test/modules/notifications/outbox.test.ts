import { randomBytes } from 'node:crypto';
import { expect } from '../../support/expect';
import { ctx } from '../../support/context';
import { http, makeHousehold, makeUser, makeVillage } from '../../support/factories';
import {
  Notification,
  NotificationDelivery,
} from '../../../src/modules/notifications/notifications.model';
import {
  NOTIFY_ATTEMPTS_MAX,
  NOTIFY_STALE_MS,
  dispatchDue,
  dispatchNotification,
  queueNotification,
  type NotificationSender,
} from '../../../src/modules/notifications/notifications.service';
import type { RunningWorkers } from '../../../workers/runner';
import {
  approve,
  eventually,
  file,
  makeCouncilScene,
  recordingSender,
  resetClock,
  shiftClock,
  startCouncilWorkers,
} from '../submissions/scene';
import { notifyFaults } from '../../../src/platform/faults';

async function oneMessage(): Promise<{ id: string; householdId: string; key: string }> {
  const v = await makeVillage();
  const h = await makeHousehold(v.id);
  const key = `test-${randomBytes(6).toString('hex')}`;
  expect(
    await queueNotification({
      key,
      householdId: h.id,
      villageId: v.id,
      kind: 'posted',
      title: '积分已入账：测试',
      body: '您户获得10分。',
    }),
  ).to.equal(true);
  const doc = (await Notification.findOne({ key }).lean())!;
  return { id: doc._id.toHexString(), householdId: h.id, key };
}

describe('notifications outbox', () => {
  const log = () => ctx().logger;
  let workers: RunningWorkers | undefined;
  afterEach(async () => {
    resetClock();
    delete notifyFaults.afterClaim;
    delete notifyFaults.afterSend;
    await workers?.close();
    workers = undefined;
  });

  it('queues a message once per key, however often the code deciding to notify runs', async () => {
    const m = await oneMessage();
    const again = await Promise.all(
      Array.from({ length: 10 }, () =>
        queueNotification({
          key: m.key,
          householdId: m.householdId,
          villageId: 'x',
          kind: 'posted',
          title: 't',
          body: 'b',
        }),
      ),
    );
    expect(again.every((queued) => queued === false)).to.equal(true);
    expect(await Notification.countDocuments({ key: m.key })).to.equal(1);
  });

  it('hands a message to the sender exactly once when 20 dispatchers race for it', async () => {
    const m = await oneMessage();
    const sender = recordingSender();
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, () => dispatchNotification(m.id, sender, { log: log() })),
    );
    expect(sender.sent.filter((s) => s.idempotencyKey === m.id)).to.have.length(1);
    expect(outcomes.filter((o) => o === 'sent')).to.have.length(1);
    expect((await Notification.findById(m.id).lean())!.state).to.equal('sent');
    expect(await dispatchNotification(m.id, sender, { log: log() })).to.equal('already_sent');
  });

  it('loses no message when a dispatcher dies after claiming it: another sends it once the claim is stale', async () => {
    const m = await oneMessage();
    const sender = recordingSender();
    notifyFaults.afterClaim = () => {
      throw new Error('injected crash after the claim');
    };
    await dispatchNotification(m.id, sender, { log: log() }).catch(() => undefined);
    delete notifyFaults.afterClaim;
    expect(sender.sent).to.have.length(0);
    // While the claim is fresh nobody else sends it (the first dispatcher might still be alive).
    expect(await dispatchNotification(m.id, sender, { log: log() })).to.equal('busy');
    shiftClock(NOTIFY_STALE_MS + 1000);
    expect(await dispatchNotification(m.id, sender, { log: log() })).to.equal('sent');
    expect(sender.sent).to.have.length(1);
    expect(await dispatchNotification(m.id, sender, { log: log() })).to.equal('already_sent');
  });

  it('hands a message over again after a crash between the send and its record, with the same idempotency key', async () => {
    const m = await oneMessage();
    const sender = recordingSender();
    notifyFaults.afterSend = () => {
      throw new Error('injected crash after the send');
    };
    await dispatchNotification(m.id, sender, { log: log() }).catch(() => undefined);
    delete notifyFaults.afterSend;
    shiftClock(NOTIFY_STALE_MS + 1000);
    expect(await dispatchNotification(m.id, sender, { log: log() })).to.equal('sent');
    // Both hand-overs carry the message id as the key a provider dedupes on: one delivery.
    expect(sender.sent.map((s) => s.idempotencyKey)).to.deep.equal([m.id, m.id]);
    expect(await NotificationDelivery.countDocuments({ _id: m.id })).to.equal(1);
  });

  it('retries a refusing sender with backoff and parks the message as dead after the last attempt', async () => {
    const m = await oneMessage();
    let calls = 0;
    const refusing: NotificationSender = {
      name: 'down',
      async send(msg) {
        if (msg.idempotencyKey === m.id) calls++;
        throw new Error('gateway 503');
      },
    };
    expect(await dispatchNotification(m.id, refusing, { log: log() })).to.equal('failed');
    expect(await dispatchNotification(m.id, refusing, { log: log() })).to.equal('later');
    for (let i = 2; i <= NOTIFY_ATTEMPTS_MAX; i++) {
      shiftClock(3 * 3600_000);
      await dispatchNotification(m.id, refusing, { log: log() });
    }
    expect(calls).to.equal(NOTIFY_ATTEMPTS_MAX);
    const doc = (await Notification.findById(m.id).lean())!;
    expect(doc).to.include({ state: 'dead', lastError: 'gateway 503' });
    shiftClock(24 * 3600_000);
    await dispatchDue(refusing, { log: log() });
    expect(calls, 'a dead message is not offered again').to.equal(NOTIFY_ATTEMPTS_MAX);
  });

  it('the workers send the posting notice of a submission through the pluggable sender', async () => {
    const sender = recordingSender();
    workers = await startCouncilWorkers({ sender });
    const s = await makeCouncilScene({ quorum: 1, noticePeriod: 'PT0S' });
    const sub = await file(s);
    await approve(s, sub.id, 1);
    const householdId = s.households[1]!.id;
    await eventually(
      async () => sender.sent.some((m) => m.householdId === householdId),
      'posting notice sent',
    );
    const inbox = await http()
      .get(`/v1/households/${householdId}/notifications`)
      .set(s.households[1]!.user.auth);
    expect(inbox.status).to.equal(200);
    const posted = inbox.body.items.find((n: { kind: string }) => n.kind === 'posted');
    expect(posted).to.include({ submissionId: sub.id });
    await eventually(
      async () => (await Notification.findById(posted.id).lean())!.state === 'sent',
      'recorded as sent',
    );
    expect(sender.sent.filter((m) => m.householdId === householdId)).to.have.length(1);
  });

  it("shows a household's messages to itself, its clerk and the admin only", async () => {
    const s = await makeCouncilScene({ rule: { kind: 'deduction', points: 5 } });
    await file(s);
    const path = `/v1/households/${s.households[1]!.id}/notifications`;
    for (const who of [s.households[1]!.user, s.clerk, s.admin])
      expect((await http().get(path).set(who.auth)).status, who.user.role).to.equal(200);
    expect((await http().get(path).set(s.households[2]!.user.auth)).status).to.equal(404);
    expect((await http().get(path).set(s.council[1]!.auth)).status).to.equal(403);
    const elsewhere = await makeUser('clerk', { villageId: (await makeVillage()).id });
    expect((await http().get(path).set(elsewhere.auth)).status).to.equal(404);
  });
});
