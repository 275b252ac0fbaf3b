import { randomBytes } from 'node:crypto';
import { expect } from '../../support/expect';
import { ctx } from '../../support/context';
import { http, makeHousehold, makeUser, makeVillage } from '../../support/factories';
import {
  Notification,
  NotificationDelivery,
  NotificationDue,
} from '../../../src/modules/notifications/notifications.model';
import {
  NOTIFY_ATTEMPTS_MAX,
  NOTIFY_MISSING_RECHECK_MS,
  NOTIFY_ORPHAN_GRACE_MS,
  NOTIFY_STALE_MS,
  countNotificationsByState,
  dispatchDue,
  dispatchNotification,
  migrateNotificationsDue,
  queueNotification,
  type NewNotification,
  type NotificationSender,
} from '../../../src/modules/notifications/notifications.service';
import { filtersSent, notLoneId } from '../../support/filters';
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
    const entries = await NotificationDue.estimatedDocumentCount();
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
    // The refused attempts took their due entries back: the one message has the one entry.
    expect(await NotificationDue.estimatedDocumentCount()).to.equal(entries);
    expect(await NotificationDue.findById(m.id).lean()).to.include({ _id: m.id });
  });

  it('finds due messages without reading the message history: a run filters `notifications` by `_id` alone, an idle run reads only the due entries', async () => {
    const v = await makeVillage();
    const h = await makeHousehold(v.id);
    const message = (i: number): NewNotification => ({
      key: `history-${h.id}-${i}`,
      householdId: h.id,
      villageId: v.id,
      kind: 'posted',
      title: `积分已入账：第 ${i} 条`,
      body: '您户获得10分。',
    });
    for (let i = 0; i < 30; i++) expect(await queueNotification(message(i))).to.equal(true);
    const sender = recordingSender();
    const seen = await filtersSent(() => dispatchDue(sender, { log: log() }));
    expect(sender.sent.filter((m) => m.householdId === h.id)).to.have.length(30);
    expect(notLoneId(seen).filter((f) => f.startsWith('notifications '))).to.deep.equal([]);
    // Sent messages leave the due entries; the next run finds nothing and reads nothing else.
    const idle = await filtersSent(() => dispatchDue(sender, { log: log() }));
    expect(idle.filter((f) => !f.startsWith('notifications_due '))).to.deep.equal([]);
    expect(sender.sent.filter((m) => m.householdId === h.id)).to.have.length(30);
    const ids = sender.sent.filter((m) => m.householdId === h.id).map((m) => m.idempotencyKey);
    expect(await NotificationDue.countDocuments({ _id: { $in: ids } })).to.equal(0);
  });

  it('loses no message to a crash between its due entry and the message: the re-run queues it once, it is sent once, the entry left behind is dropped after an hour', async () => {
    const v = await makeVillage();
    const h = await makeHousehold(v.id);
    const msg: NewNotification = {
      key: `crash-${h.id}`,
      householdId: h.id,
      villageId: v.id,
      kind: 'deduction_filed',
      title: '扣分公示',
      body: '您户被申报扣5分。',
    };
    let orphan = '';
    notifyFaults.afterDueEntry = (id) => {
      orphan = id;
      throw new Error('injected crash between the due entry and the message');
    };
    const crashed = await queueNotification(msg).then(String, (err: Error) => err.message);
    expect(crashed).to.contain('injected crash');
    delete notifyFaults.afterDueEntry;
    expect(await Notification.countDocuments({ key: msg.key })).to.equal(0);
    expect(await queueNotification(msg)).to.equal(true);
    expect(await queueNotification(msg)).to.equal(false);
    const sender = recordingSender();
    await dispatchDue(sender, { log: log() });
    expect(sender.sent.filter((m) => m.householdId === h.id)).to.have.length(1);
    // Within the hour the crashed call's message could still be on its way: its entry stays.
    expect(await NotificationDue.findById(orphan).lean()).to.include({ _id: orphan });
    shiftClock(NOTIFY_ORPHAN_GRACE_MS + 1000);
    await dispatchDue(sender, { log: log() });
    expect(await NotificationDue.findById(orphan).lean()).to.equal(null);
    expect(sender.sent.filter((m) => m.householdId === h.id)).to.have.length(1);
  });

  it('sends a message promptly when a dispatcher ran between its due entry and the message', async () => {
    const v = await makeVillage();
    const h = await makeHousehold(v.id);
    const sender = recordingSender();
    // The dispatcher runs after the due entry is written and before the message is.
    notifyFaults.afterDueEntry = async () => {
      delete notifyFaults.afterDueEntry;
      await dispatchDue(sender, { log: log() });
    };
    expect(
      await queueNotification({
        key: `between-${h.id}`,
        householdId: h.id,
        villageId: v.id,
        kind: 'posted',
        title: '积分已入账',
        body: '您户获得10分。',
      }),
    ).to.equal(true);
    expect(sender.sent.filter((m) => m.householdId === h.id)).to.have.length(0);
    shiftClock(NOTIFY_MISSING_RECHECK_MS + 1000);
    await dispatchDue(sender, { log: log() });
    expect(sender.sent.filter((m) => m.householdId === h.id)).to.have.length(1);
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
    expect(await NotificationDue.findById(m.id).lean()).to.include({ dead: true });
  });

  it('lists the messages queued before `notifications_due` existed, once: the pending one is sent, the dead one counted', async () => {
    const v = await makeVillage();
    const h = await makeHousehold(v.id);
    const before = await countNotificationsByState();
    // As an older version stored them: messages without due entries.
    const old = (key: string, state: 'pending' | 'dead' | 'sent') =>
      Notification.create({
        key,
        householdId: h.id,
        villageId: v.id,
        kind: 'posted',
        title: '积分已入账',
        body: '您户获得10分。',
        state,
        attempts: state === 'dead' ? NOTIFY_ATTEMPTS_MAX : 0,
        nextAttemptAt: new Date(Date.now() - 60_000),
      });
    const pending = await old(`old-pending-${h.id}`, 'pending');
    await old(`old-dead-${h.id}`, 'dead');
    await old(`old-sent-${h.id}`, 'sent');
    const sender = recordingSender();
    await dispatchDue(sender, { log: log() });
    expect(
      sender.sent.filter((m) => m.householdId === h.id),
      'not listed yet',
    ).to.have.length(0);
    expect(await migrateNotificationsDue()).to.equal(2);
    expect(await countNotificationsByState()).to.deep.equal({
      pending: before.pending + 1,
      dead: before.dead + 1,
    });
    await dispatchDue(sender, { log: log() });
    expect(
      sender.sent.filter((m) => m.householdId === h.id).map((m) => m.idempotencyKey),
    ).to.deep.equal([pending._id.toHexString()]);
    expect((await countNotificationsByState()).pending).to.equal(before.pending);
    // Marked: later starts do not read the messages again.
    await old(`old-pending-late-${h.id}`, 'pending');
    expect(await migrateNotificationsDue()).to.equal(0);
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
