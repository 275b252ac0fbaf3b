/**
 * 农户: my balances and every entry with its reason (printable); who looked up my score; consent
 * per cooperative (grant, withdraw); objections to what is in public notice; appeals of deductions.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, del, get, post } from '../api';
import { beijing, pts } from '../format';
import { describeError } from '../messages';
import { session } from '../session';
import type { Consent, Entry, Inquiry } from '../shapes';
import {
  Alert,
  Badge,
  byPath,
  Empty,
  Loading,
  LoadStatus,
  Outcome,
  RefreshButton,
  Section,
  Tabs,
  TextArea,
  useLoad,
} from '../ui';
import { EntriesTable, StatusBadge, type Submission, useReasonForm } from './common';

const TABS = [
  { path: '/household', label: '我的积分' },
  { path: '/household/notice', label: '公示与异议' },
  { path: '/household/appeals', label: '扣分申诉' },
  { path: '/household/credit', label: '信用授权' },
];

const me = () => session.get()?.me.householdId ?? '';

export function HouseholdPage({ path }: { path: string }) {
  return (
    <>
      <h1>我的道德积分</h1>
      <Tabs tabs={TABS} current={path} />
      {byPath(
        path,
        {
          '/household/notice': <Notice />,
          '/household/appeals': <Appeals />,
          '/household/credit': <Credit />,
        },
        <Statement />,
      )}
    </>
  );
}

function Statement() {
  const data = useLoad(async () => {
    const id = me();
    const [household, account, score] = await Promise.all([
      get<{ head: string; cardNo: string }>(`/v1/households/${id}`),
      get<{ spendable: number; merit: number }>(`/v1/households/${id}/account`),
      get<{ score: number; grade: string }>(`/v1/credit/households/${id}`).catch(() => null),
    ]);
    const entries: Entry[] = [];
    let after = 0;
    for (;;) {
      const page = await get<{ items: Entry[]; next: number | null }>(
        `/v1/households/${id}/entries`,
        { after, limit: 500 },
      );
      entries.push(...page.items);
      if (page.next === null) break;
      after = page.next;
    }
    return { household, account, score, entries: entries.reverse() };
  }, []);
  if (data.loading) return <Loading />;
  if (data.error) return <Alert kind="error">{describeError(data.error)}</Alert>;
  const d = data.data!;
  return (
    <>
      <Section title={`${d.household.head} 户（卡号 ${d.household.cardNo}）`}>
        <dl class="balances">
          <div>
            <dt>可用积分（可在公益超市兑换）</dt>
            <dd class="big">{d.account.spendable}</dd>
          </div>
          <div>
            <dt>累计积分（兑换不会减少，信用参考用）</dt>
            <dd class="big">{d.account.merit}</dd>
          </div>
          {d.score ? (
            <div>
              <dt>信用参考分</dt>
              <dd class="big">
                {d.score.score}（{d.score.grade}）
              </dd>
            </div>
          ) : null}
        </dl>
      </Section>
      <Section
        title="积分明细"
        actions={
          <button type="button" class="no-print" onClick={() => window.print()}>
            打印明细
          </button>
        }
      >
        <p class="no-print">
          <OfficialStatement householdId={me()} />
        </p>
        <div class="statement scroll-x" tabIndex={0} role="region" aria-label="积分明细表">
          <p class="print-only">
            道德积分明细 · {d.household.head} 户 · 卡号 {d.household.cardNo} · 打印于{' '}
            {beijing(new Date().toISOString())}
          </p>
          {d.entries.length ? (
            <EntriesTable
              entries={d.entries}
              caption="积分明细，最新的在前"
              class="entries-table"
            />
          ) : (
            <Empty>还没有积分记录。</Empty>
          )}
        </div>
      </Section>
    </>
  );
}

/**
 * The service's own printable statement (积分对账单, GET /v1/households/:id/statement): a
 * self-contained page with its own CSP and no script. A browser cannot send the bearer token on
 * a plain link, so the page fetches it with the token and links to it as a blob: URL, opened in
 * a new tab to print or save as PDF.
 */
function OfficialStatement({ householdId }: { householdId: string }) {
  const [href, setHref] = useState<string | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let url: string | null = null;
    let live = true;
    api<Blob>(`/v1/households/${householdId}/statement`, { as: 'blob' }).then(
      (b) => {
        if (!live) return;
        url = URL.createObjectURL(new Blob([b], { type: 'text/html;charset=utf-8' }));
        setHref(url);
      },
      () => live && setFailed(true),
    );
    return () => {
      live = false;
      if (url) URL.revokeObjectURL(url);
    };
  }, [householdId]);
  if (failed) return <span class="meta">对账单暂时打不开，请稍后刷新。</span>;
  if (!href) return <span class="meta">正在准备对账单…</span>;
  return (
    <a class="button" href={href} target="_blank" rel="noopener">
      打开对账单（可打印、存为 PDF）
    </a>
  );
}

function Notice() {
  const list = useLoad(
    () => get<{ items: Submission[] }>('/v1/submissions', { status: 'in_notice', limit: 100 }),
    [],
  );
  return (
    <Section title="正在公示的积分事项" actions={<RefreshButton onClick={list.reload} />}>
      <p class="lead">
        公示期间，如果您认为哪一项不属实，可以提出异议，写明理由。该事项会退回评议会重新评议。
      </p>
      <LoadStatus of={list} />
      {list.data && !list.data.items.length ? <Empty>现在没有正在公示的事项。</Empty> : null}
      {list.data?.items.map((s) => (
        <ObjectCard key={s.id} s={s} onDone={list.reload} />
      ))}
    </Section>
  );
}

function ObjectCard({ s, onDone }: { s: Submission; onDone: () => void }) {
  const form = useReasonForm({
    draftKey: `household-object-${s.id}`,
    label: '异议理由',
    missing: '请在“异议理由”中写明您认为哪里不属实。',
    ok: '异议已提交，该事项退回评议会重新评议。',
    send: (reason) => post(`/v1/submissions/${s.id}/objections`, { reason }),
    onDone,
  });
  const [open, setOpen] = useState(Boolean(form.reason));
  return (
    <article class="item">
      <div class="item-head">
        <strong>{s.ruleTitle}</strong>
        <span class={s.kind === 'award' ? 'plus' : 'minus'}>{pts(s.points)} 分</span>
      </div>
      <p>
        发生于 {s.occurredOn} · 公示至 {beijing(s.noticeEndsAt)} ·{' '}
        {s.batch ? `${s.lines.length} 户` : '1 户'}
      </p>
      {open ? (
        <form onSubmit={form.submit} noValidate>
          <TextArea name="reason" {...form.field} required />
          <button type="submit" class="danger">
            提交异议
          </button>
        </form>
      ) : (
        <button type="button" onClick={() => setOpen(true)}>
          我有异议
        </button>
      )}
      <Outcome of={form.result} />
    </article>
  );
}

function Appeals() {
  const list = useLoad(
    async () =>
      (
        await get<{ items: Submission[] }>('/v1/submissions', { householdId: me(), limit: 200 })
      ).items.filter((s) => s.kind === 'deduction'),
    [],
  );
  return (
    <Section title="我户的扣分事项">
      <p class="lead">
        扣分入账后 30 天内，您可以提出申诉，由乡镇（县中心）复核。申诉成立会撤销扣分。
      </p>
      <LoadStatus of={list} />
      {list.data && !list.data.length ? <Empty>您户没有扣分事项。</Empty> : null}
      {list.data?.map((s) => (
        <AppealCard key={s.id} s={s} onDone={list.reload} />
      ))}
    </Section>
  );
}

const APPEAL_STATUS: Record<string, string> = {
  pending: '申诉待复核',
  upheld: '申诉成立，已撤销扣分',
  dismissed: '申诉被驳回',
};

function AppealCard({ s, onDone }: { s: Submission; onDone: () => void }) {
  const form = useReasonForm({
    draftKey: `household-appeal-${s.id}`,
    label: '申诉理由',
    missing: '请在“申诉理由”中写明为什么这项扣分不对，有什么证明。',
    ok: '申诉已提交，复核结果会通知您。',
    send: (reason) => post(`/v1/submissions/${s.id}/appeals`, { reason }),
    onDone,
  });
  const detail = useLoad(() => get<Submission>(`/v1/submissions/${s.id}`), [s.id]);
  const sub = detail.data ?? s;
  const canAppeal =
    sub.status === 'posted' &&
    !sub.appeal &&
    (!sub.appealDeadline || new Date(sub.appealDeadline).getTime() > Date.now());
  return (
    <article class="item">
      <div class="item-head">
        <strong>{sub.ruleTitle}</strong>
        <span class="minus">{pts(sub.points)} 分</span>
      </div>
      <p>
        发生于 {sub.occurredOn} · <StatusBadge s={sub} />
        {sub.appeal ? (
          <>
            {' '}
            ·{' '}
            <Badge
              tone={
                sub.appeal.status === 'upheld'
                  ? 'good'
                  : sub.appeal.status === 'dismissed'
                    ? 'bad'
                    : 'wait'
              }
            >
              {APPEAL_STATUS[sub.appeal.status] ?? sub.appeal.status}
            </Badge>
          </>
        ) : null}
      </p>
      {sub.appeal ? (
        <p class="meta">
          {beijing(sub.appeal.filedAt)} 提出申诉，理由：{sub.appeal.reason}
        </p>
      ) : null}
      {sub.appeal?.decidedAt ? (
        <p class="decision">
          {beijing(sub.appeal.decidedAt)} 复核结果：
          {APPEAL_STATUS[sub.appeal.status] ?? sub.appeal.status}
          {sub.appeal.note ? `。复核说明：${sub.appeal.note}` : '。'}
        </p>
      ) : null}
      {sub.appealDeadline && !sub.appeal ? (
        <p class="meta">可申诉至 {beijing(sub.appealDeadline)}</p>
      ) : null}
      {canAppeal ? (
        <form onSubmit={form.submit} noValidate>
          <TextArea name="reason" {...form.field} required />
          <button type="submit">提交申诉</button>
        </form>
      ) : null}
      <Outcome of={form.result} />
    </article>
  );
}

function Credit() {
  const data = useLoad(async () => {
    const [coops, consents, inquiries] = await Promise.all([
      get<{ items: { id: string; name: string }[] }>('/v1/cooperatives'),
      get<{ items: Consent[] }>('/v1/consents', { householdId: me() }),
      get<{ items: Inquiry[] }>(`/v1/households/${me()}/inquiries`),
    ]);
    return { coops: coops.items, consents: consents.items, inquiries: inquiries.items };
  }, []);
  const [message, setMessage] = useState<{ ok?: string; error?: string }>({});
  const coopNames = new Map((data.data?.coops ?? []).map((c) => [c.id, c.name]));

  async function grant(cooperativeId: string) {
    try {
      const expiresAt = new Date(Date.now() + 365 * 86_400_000).toISOString();
      await post('/v1/consents', { householdId: me(), cooperativeId, expiresAt });
      setMessage({
        ok: `已授权${coopNames.get(cooperativeId) ?? ''}查询本户信用参考分，有效期一年。`,
      });
      data.reload();
    } catch (err) {
      setMessage({ error: describeError(err, { cooperativeId: '信用社', expiresAt: '有效期' }) });
    }
  }
  async function revoke(consentId: string) {
    try {
      await del(`/v1/consents/${consentId}`);
      setMessage({ ok: '已撤回授权。该信用社今后不能再查询或导出本户的信用参考分。' });
      data.reload();
    } catch (err) {
      setMessage({ error: describeError(err) });
    }
  }

  if (data.loading) return <Loading />;
  if (data.error) return <Alert kind="error">{describeError(data.error)}</Alert>;
  const d = data.data!;
  return (
    <>
      <Section title="授权信用社查询">
        <p class="lead">
          只有您授权的信用社才能查询本户的信用参考分（姓名只显示首尾字）。您可以随时撤回。
        </p>
        <Outcome of={message} />
        {d.coops.length ? null : <Empty>本村没有合作的信用社。</Empty>}
        {d.coops.map((c) => {
          const active = d.consents.find((x) => x.cooperativeId === c.id && x.status === 'active');
          return (
            <article class="item" key={c.id}>
              <div class="item-head">
                <strong>{c.name}</strong>
                {active ? (
                  <Badge tone="good">已授权，至 {beijing(active.expiresAt, false)}</Badge>
                ) : (
                  <Badge tone="plain">未授权</Badge>
                )}
              </div>
              {active ? (
                <button type="button" class="danger" onClick={() => revoke(active.id)}>
                  撤回授权
                </button>
              ) : (
                <button type="button" class="primary" onClick={() => grant(c.id)}>
                  授权查询（一年）
                </button>
              )}
            </article>
          );
        })}
      </Section>
      <Section title="谁查询过我的信用参考分">
        {d.inquiries.length ? (
          <table>
            <caption class="sr-only">查询记录，最新的在前</caption>
            <thead>
              <tr>
                <th scope="col">时间</th>
                <th scope="col">信用社</th>
                <th scope="col">查询人</th>
                <th scope="col">目的</th>
                <th scope="col">结果</th>
              </tr>
            </thead>
            <tbody>
              {d.inquiries.map((i) => (
                <tr key={i.id}>
                  <td>{beijing(i.at)}</td>
                  <td>{i.cooperativeName || coopNames.get(i.cooperativeId) || '信用社'}</td>
                  <td>{i.officerName || '信贷员'}</td>
                  <td>{i.purpose}</td>
                  <td>
                    {i.result === 'ok'
                      ? '已查询'
                      : i.result === 'exported'
                        ? '整村导出'
                        : '被拒绝（未授权等）'}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <Empty>还没有人查询过。</Empty>
        )}
      </Section>
    </>
  );
}
