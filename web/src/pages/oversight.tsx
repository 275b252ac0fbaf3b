/**
 * 乡镇实践所 (township station) and 监督运营 (a village's supervisor), issue 11.
 *
 * - Township: escalated orders to dispatch, appeals of its villages to decide, supervisors'
 *   flags to settle, the 人情分 concentration report of a village.
 * - Supervisor: read-only views of its village's points, submissions, the stock and sales of
 *   the stores serving it; objects to a submission in notice; flags a sale or a stock movement
 *   (flags go to the township); the concentration report. No button here writes points.
 */
import { useMemo, useState } from 'preact/hooks';
import { api, ApiError, get, post } from '../api';
import { beijing, todayCst } from '../format';
import { describeError } from '../messages';
import { session } from '../session';
import type { Entry, StockMovement as Movement, StoreItem as Item } from '../shapes';
import {
  Alert,
  byPath,
  Empty,
  Field,
  Link,
  Loading,
  LoadStatus,
  Outcome,
  RefreshButton,
  Section,
  Select,
  Tabs,
  TextArea,
  useLoad,
} from '../ui';
import {
  EntriesTable,
  type Household,
  householdLabel,
  householdNames,
  loadVillageHouseholds,
  type Submission,
  SubmissionSummary,
  useReasonForm,
} from './common';
import { AppealsSection } from './appeals';
import { OrderCard, type OrderRow } from './service';
import { useVillages } from './volunteers';

const me = () => session.get()?.me;

// ------------------------------------------------------------------------------------------
// 乡镇实践所

const TOWNSHIP_TABS = [
  { path: '/township', label: '超时转派' },
  { path: '/township/appeals', label: '申诉复核' },
  { path: '/township/flags', label: '监督反映' },
  { path: '/township/concentration', label: '人情分分析' },
];

export function TownshipPage({ path }: { path: string }) {
  const t = useLoad(
    () => get<{ items: { name: string; county: string; villageIds: string[] }[] }>('/v1/townships'),
    [],
  );
  const township = t.data?.items[0];
  return (
    <>
      <h1>乡镇实践所{township ? ` · ${township.name}` : ''}</h1>
      {township ? (
        <p class="lead">
          {township.county} · 管辖 {township.villageIds.length} 个村实践站
        </p>
      ) : null}
      <Tabs tabs={TOWNSHIP_TABS} current={path} />
      {byPath(
        path,
        {
          '/township/appeals': <Appeals />,
          '/township/flags': <Flags canResolve />,
          '/township/concentration': <Concentration />,
        },
        <Escalated />,
      )}
    </>
  );
}

function useVillageNames() {
  const villages = useVillages();
  return useMemo(() => new Map((villages.data ?? []).map((v) => [v.id, v.name])), [villages.data]);
}

function Escalated() {
  const list = useLoad(
    () => get<{ items: OrderRow[] }>('/v1/service-orders', { status: 'escalated', limit: 100 }),
    [],
  );
  const villages = useVillageNames();
  const names = useMemo(() => new Map<string, string>(), []);
  // An order dispatched from here leaves the list when it reloads, and its card with it: say so
  // above the list, or the station sees the order vanish with no word.
  const [handled, setHandled] = useState<string[]>([]);
  const gone = list.data ? handled.filter((id) => !list.data!.items.some((o) => o.id === id)) : [];
  return (
    <Section title="超时未接、转到乡镇的订单" actions={<RefreshButton onClick={list.reload} />}>
      <p class="lead">
        村实践站在规定时间内没有服务队接单的订单转到这里，请派给乡镇或县级服务队，或本村其他服务队。
      </p>
      <LoadStatus of={list} />
      {gone.length ? (
        <Alert kind="ok">
          已办理 {gone.length} 张订单，已移出本列表；进度可在“
          <Link href="/service/orders">订单</Link>
          ”中查看。
        </Alert>
      ) : null}
      {list.data && !list.data.items.length ? <Empty>没有待派的超时订单。</Empty> : null}
      {list.data?.items.map((o) => (
        <div key={o.id}>
          <p class="meta">{villages.get(o.villageId) ?? '本乡镇村'}</p>
          <OrderCard
            row={o}
            names={names}
            onChanged={() => {
              setHandled((h) => (h.includes(o.id) ? h : [...h, o.id]));
              list.reload();
            }}
          />
        </div>
      ))}
    </Section>
  );
}

function Appeals() {
  const villages = useVillageNames();
  return (
    <AppealsSection
      title="本乡镇各村的扣分申诉"
      draftPrefix="township-appeal"
      villageName={(id) => villages.get(id)}
    />
  );
}

interface Flag {
  id: string;
  villageId: string;
  target:
    | { type: 'redemption'; storeId: string; redemptionId: string }
    | { type: 'stock_movement'; storeId: string; sku: string; seq: number };
  reason: string;
  createdAt: string;
  resolution: { note: string; at: string } | null;
}

function Flags({ canResolve }: { canResolve?: boolean }) {
  const [status, setStatus] = useState(canResolve ? 'open' : 'all');
  const villages = useVillageNames();
  const list = useLoad(
    () => get<{ items: Flag[] }>('/v1/oversight-flags', { status, limit: 100 }),
    [status],
  );
  // A settled flag leaves the list of open ones: its message shows above the list.
  const [done, setDone] = useState('');
  return (
    <Section
      title={canResolve ? '监督员反映的问题' : '我反映的问题'}
      actions={<RefreshButton onClick={list.reload} />}
    >
      <Select
        label="查看"
        name="flagStatus"
        value={status}
        onValue={setStatus}
        options={[
          { value: 'open', label: '未办结的' },
          { value: 'all', label: '全部' },
        ]}
      />
      <LoadStatus of={list} />
      {done ? <Alert kind="ok">{done}</Alert> : null}
      {list.data && !list.data.items.length ? <Empty>没有反映的问题。</Empty> : null}
      {list.data?.items.map((f) => (
        <FlagCard
          key={f.id}
          f={f}
          village={villages.get(f.villageId)}
          canResolve={canResolve}
          onDone={(message) => {
            setDone(message);
            list.reload();
          }}
        />
      ))}
    </Section>
  );
}

function FlagCard({
  f,
  village,
  canResolve,
  onDone,
}: {
  f: Flag;
  village?: string;
  canResolve?: boolean;
  onDone: (message: string) => void;
}) {
  const [note, setNote] = useState('');
  const [result, setResult] = useState<{ ok?: string; error?: string }>({});
  async function resolve() {
    if (!note.trim()) {
      setResult({ error: '请在“办理结果”中写明如何处理的。' });
      return;
    }
    try {
      await post(`/v1/oversight-flags/${f.id}/resolution`, { note: note.trim() });
      setResult({});
      onDone(`已办结：${note.trim()}`);
    } catch (err) {
      setResult({
        error:
          err instanceof ApiError && err.status === 409
            ? '这条反映已经办结了。'
            : describeError(err, { note: '办理结果' }),
      });
    }
  }
  const what =
    f.target.type === 'redemption'
      ? `一笔兑换（编号尾号 ${f.target.redemptionId.slice(-6)}）`
      : `商品 ${f.target.sku} 的第 ${f.target.seq} 笔库存变动`;
  return (
    <article class="item">
      <div class="item-head">
        <strong>
          {village ? `${village} · ` : ''}
          {what}
        </strong>
        <span>{f.resolution ? '已办结' : '待办理'}</span>
      </div>
      <p class="meta">反映于 {beijing(f.createdAt)}</p>
      <p class="evidence">反映内容：{f.reason}</p>
      {f.resolution ? (
        <p>
          {beijing(f.resolution.at)} 办理结果：{f.resolution.note}
        </p>
      ) : canResolve ? (
        <>
          <TextArea
            label="办理结果"
            name={`note-${f.id}`}
            rows={2}
            value={note}
            onValue={setNote}
            required
          />
          <div class="buttons">
            <button type="button" class="primary" onClick={resolve}>
              办结
            </button>
          </div>
        </>
      ) : null}
      <Outcome of={result} />
    </article>
  );
}

// ------------------------------------------------------------------------------------------
// 人情分 concentration report

interface Share {
  householdIds: string[];
  approvals: number;
  share: number;
  othersShare: number;
  flagged: boolean;
}

interface Report {
  from: string;
  to: string;
  threshold: number;
  minApprovals: number;
  lift: number;
  flagged: number;
  members: {
    memberId: string;
    username: string;
    approvals: number;
    topHouseholds: { householdId: string; approvals: number }[];
    kin: Share | null;
    fewHouseholds: Share | null;
    relatedGroup: Share | null;
    flagged: boolean;
    reasons: string[];
  }[];
}

const REASONS: Record<string, string> = {
  kin: '多批给自家亲属',
  few_households: '集中批给少数几户',
  related_group: '集中批给同一宗族/关联户',
};

const pct = (x: number) => `${Math.round(x * 100)}%`;

function daysAgo(n: number): string {
  return new Date(Date.now() + 8 * 3_600_000 - n * 86_400_000).toISOString().slice(0, 10);
}

function Concentration() {
  const m = me();
  const [villageId, setVillageId] = useState(m?.villageId ?? '');
  const [from, setFrom] = useState(daysAgo(365));
  const [to, setTo] = useState(todayCst());
  const villages = useVillages();
  const households = useLoad(
    () => (villageId ? loadVillageHouseholds(villageId).catch(() => []) : Promise.resolve([])),
    [villageId],
  );
  const names = useMemo(
    () => new Map((households.data ?? []).map((h) => [h.id, h.head])),
    [households.data],
  );
  const report = useLoad(
    () =>
      villageId
        ? get<Report>(`/v1/villages/${villageId}/concentration`, { from, to })
        : Promise.resolve(undefined),
    [villageId, from, to],
  );
  const name = (id: string) => names.get(id) ?? '农户';
  const share = (label: string, s: Share | null) =>
    s ? (
      <li>
        {label}：{pct(s.share)}（其他评议员对同样几户 {pct(s.othersShare)}）
        {s.flagged ? ' — 超过阈值' : ''}
        {s.householdIds.length ? `，涉及 ${s.householdIds.map(name).join('、')}` : ''}
      </li>
    ) : null;
  return (
    <Section title="人情分分析：评议员的同意票落在哪些户">
      <p class="lead">
        对每位评议会成员，看其投同意票的积分有多大比例落在自家亲属、少数几户或同一宗族的农户身上，并与其他成员对同样几户的比例相比。超过阈值的会被标出，供监督和乡镇复查。
      </p>
      <div class="inline-form">
        {m?.role === 'supervisor' ? null : (
          <Select
            label="村"
            name="concentrationVillage"
            value={villageId}
            onValue={setVillageId}
            placeholder="请选择村"
            options={(villages.data ?? []).map((v) => ({ value: v.id, label: v.name }))}
          />
        )}
        <Field label="从" name="from" type="date" value={from} onValue={setFrom} />
        <Field label="到" name="to" type="date" value={to} onValue={setTo} />
      </div>
      {report.loading && villageId ? <Loading /> : null}
      {report.error ? (
        <Alert kind="error">{describeError(report.error, { from: '从', to: '到' })}</Alert>
      ) : null}
      {report.data ? (
        <>
          <p class="meta">
            阈值 {pct(report.data.threshold)}；至少 {report.data.minApprovals}{' '}
            次同意才分析；且须是其他成员比例的 {report.data.lift} 倍以上。被标出：
            {report.data.flagged} 人。
          </p>
          {!report.data.members.length ? <Empty>这段时间没有评议记录。</Empty> : null}
          {report.data.members.map((x) => (
            <article
              key={x.memberId}
              class={`item ${x.flagged ? 'flagged' : ''}`}
              aria-label={`评议员 ${x.username}`}
            >
              <div class="item-head">
                <strong>{x.username}</strong>
                <span>{x.flagged ? '⚠ 人情分嫌疑' : '未见异常'}</span>
              </div>
              <p>
                同意 {x.approvals} 次
                {x.topHouseholds.length
                  ? `；最多的几户：${x.topHouseholds.map((h) => `${name(h.householdId)} ${h.approvals} 次`).join('、')}`
                  : ''}
              </p>
              <ul class="plain">
                {share('自家亲属', x.kin)}
                {share('少数几户', x.fewHouseholds)}
                {share('同一宗族/关联户', x.relatedGroup)}
              </ul>
              {x.reasons.length ? (
                <p class="objection">原因：{x.reasons.map((r) => REASONS[r] ?? r).join('；')}</p>
              ) : null}
            </article>
          ))}
        </>
      ) : null}
    </Section>
  );
}

// ------------------------------------------------------------------------------------------
// 监督运营

const SUPERVISOR_TABS = [
  { path: '/supervisor', label: '积分账户' },
  { path: '/supervisor/notice', label: '评议公示' },
  { path: '/supervisor/store', label: '公益超市' },
  { path: '/supervisor/flags', label: '我的反映' },
  { path: '/supervisor/concentration', label: '人情分分析' },
];

export function SupervisorPage({ path }: { path: string }) {
  return (
    <>
      <h1>监督运营</h1>
      <p class="lead">
        监督员只能查看，不能改动积分；发现问题可对公示事项提出异议，或就兑换、库存反映到乡镇实践所。
      </p>
      <Tabs tabs={SUPERVISOR_TABS} current={path} />
      {byPath(
        path,
        {
          '/supervisor/notice': <Notice />,
          '/supervisor/store': <Store />,
          '/supervisor/flags': <Flags />,
          '/supervisor/concentration': <Concentration />,
        },
        <Accounts />,
      )}
    </>
  );
}

/** Picks one of the village's households (by head and card number). */
function HouseholdSelect({
  name,
  households,
  value,
  onValue,
}: {
  name: string;
  households: Household[];
  value: string;
  onValue: (id: string) => void;
}) {
  return (
    <Select
      label="农户"
      name={name}
      value={value}
      onValue={onValue}
      placeholder="请选择农户"
      options={households.map((h) => ({ value: h.id, label: householdLabel(h) }))}
    />
  );
}

function Accounts() {
  const households = useLoad(() => loadVillageHouseholds(), []);
  const [id, setId] = useState('');
  const detail = useLoad(
    () =>
      id
        ? Promise.all([
            get<{ spendable: number; merit: number }>(`/v1/households/${id}/account`),
            get<{ items: Entry[] }>(`/v1/households/${id}/entries`, { limit: 500 }),
          ])
        : Promise.resolve(undefined),
    [id],
  );
  return (
    <Section title="本村农户的积分">
      {households.error ? <Alert kind="error">{describeError(households.error)}</Alert> : null}
      <HouseholdSelect
        name="household"
        households={households.data ?? []}
        value={id}
        onValue={setId}
      />
      {detail.loading && id ? <Loading /> : null}
      {detail.error ? <Alert kind="error">{describeError(detail.error)}</Alert> : null}
      {detail.data ? (
        <>
          <dl class="balances">
            <div>
              <dt>可用积分</dt>
              <dd class="big">{detail.data[0].spendable}</dd>
            </div>
            <div>
              <dt>累计积分</dt>
              <dd class="big">{detail.data[0].merit}</dd>
            </div>
          </dl>
          {detail.data[1].items.length ? (
            <div class="table-wrap" tabIndex={0} role="region" aria-label="表格，可左右滚动">
              <EntriesTable entries={[...detail.data[1].items].reverse()} caption="积分明细" />
            </div>
          ) : (
            <Empty>这户还没有积分记录。</Empty>
          )}
        </>
      ) : null}
    </Section>
  );
}

function Notice() {
  const households = useLoad(() => loadVillageHouseholds(), []);
  const names = useMemo(() => householdNames(households.data), [households.data]);
  const list = useLoad(
    () => get<{ items: Submission[] }>('/v1/submissions', { status: 'in_notice', limit: 100 }),
    [],
  );
  return (
    <Section title="正在公示的积分事项" actions={<RefreshButton onClick={list.reload} />}>
      <LoadStatus of={list} />
      {list.data && !list.data.items.length ? <Empty>现在没有正在公示的事项。</Empty> : null}
      {list.data?.items.map((s) => (
        <SubmissionSummary key={s.id} s={s} names={names}>
          <ObjectForm s={s} onDone={list.reload} />
        </SubmissionSummary>
      ))}
    </Section>
  );
}

function ObjectForm({ s, onDone }: { s: Submission; onDone: () => void }) {
  const form = useReasonForm({
    draftKey: `supervisor-object-${s.id}`,
    label: '异议理由',
    missing: '请在“异议理由”中写明哪里不属实。',
    ok: '异议已提交，该事项退回评议会重新评议。',
    send: (reason) => post(`/v1/submissions/${s.id}/objections`, { reason }),
    onDone,
    refused: (err) =>
      err instanceof ApiError && err.status === 409
        ? '公示期刚刚结束，不能再提出异议。'
        : undefined,
  });
  return (
    <div class="action">
      <TextArea name={`reason-${s.id}`} rows={2} {...form.field} />
      <div class="buttons">
        <button type="button" class="danger" onClick={() => form.submit()}>
          提出异议
        </button>
      </div>
      <Outcome of={form.result} />
    </div>
  );
}

interface StoreView {
  id: string;
  name: string;
}
interface Sale {
  id: string;
  points: number;
  receiptNo: string;
  cardNo: string;
  status: string;
  items: { name: string; qty: number }[];
  createdAt: string;
}

const MOVEMENT_KINDS: Record<string, string> = {
  initial: '期初库存',
  restock: '进货',
  take: '兑换出库',
  give: '退回入库（兑换失败或撤销）',
  void: '作废（未发生的出库）',
};

function Store() {
  const stores = useLoad(() => get<{ items: StoreView[] }>('/v1/stores'), []);
  const [storeId, setStoreId] = useState('');
  const store = stores.data?.items.find((s) => s.id === storeId) ?? stores.data?.items[0];
  const items = useLoad(
    () =>
      store
        ? get<{ items: Item[] }>(`/v1/stores/${store.id}/items`)
        : Promise.resolve({ items: [] }),
    [store?.id],
  );
  const sales = useLoad(
    () =>
      store
        ? get<{ items: Sale[] }>('/v1/redemptions', { storeId: store.id, limit: 50 })
        : Promise.resolve({ items: [] }),
    [store?.id],
  );
  const [sku, setSku] = useState('');
  if (stores.loading) return <Loading />;
  if (stores.error) return <Alert kind="error">{describeError(stores.error)}</Alert>;
  if (!store) return <Empty>没有为本村服务的公益超市。</Empty>;
  return (
    <>
      {(stores.data?.items.length ?? 0) > 1 ? (
        <Select
          label="超市"
          name="store"
          value={store.id}
          onValue={setStoreId}
          options={stores.data!.items.map((s) => ({ value: s.id, label: s.name }))}
        />
      ) : null}
      <Section title={`${store.name} · 库存`}>
        {items.data?.items.length ? (
          <div class="table-wrap" tabIndex={0} role="region" aria-label="表格，可左右滚动">
            <table>
              <caption class="sr-only">商品和库存</caption>
              <thead>
                <tr>
                  <th scope="col">商品</th>
                  <th scope="col">积分</th>
                  <th scope="col">库存</th>
                  <th scope="col">变动记录</th>
                </tr>
              </thead>
              <tbody>
                {items.data.items.map((i) => (
                  <tr key={i.sku}>
                    <th scope="row">{i.name}</th>
                    <td>{i.points}</td>
                    <td>{i.stock}</td>
                    <td>
                      <button
                        type="button"
                        class="link-button"
                        aria-expanded={sku === i.sku}
                        onClick={() => setSku(sku === i.sku ? '' : i.sku)}
                      >
                        {sku === i.sku ? '收起' : `查看“${i.name}”的变动`}
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : (
          <Empty>没有商品。</Empty>
        )}
        {sku ? <Movements storeId={store.id} sku={sku} /> : null}
      </Section>
      <Section title={`${store.name} · 最近的兑换`}>
        {sales.error ? <Alert kind="error">{describeError(sales.error)}</Alert> : null}
        {sales.data && !sales.data.items.length ? <Empty>还没有兑换。</Empty> : null}
        {sales.data?.items.map((s) => (
          <article key={s.id} class="item" aria-label={`兑换 ${s.receiptNo}`}>
            <div class="item-head">
              <strong>小票 {s.receiptNo}</strong>
              <span class="minus">-{s.points} 分</span>
            </div>
            <p>
              {beijing(s.createdAt)} · 卡号 {s.cardNo} ·{' '}
              {s.items.map((i) => `${i.name}×${i.qty}`).join('、')}
              {s.status === 'reversed' ? ' · 已撤销' : ''}
            </p>
            <FlagForm
              target={{ type: 'redemption', redemptionId: s.id }}
              label={`小票 ${s.receiptNo}`}
            />
          </article>
        ))}
      </Section>
    </>
  );
}

function Movements({ storeId, sku }: { storeId: string; sku: string }) {
  const list = useLoad(
    () =>
      get<{ items: Movement[] }>(
        `/v1/stores/${storeId}/items/${encodeURIComponent(sku)}/movements`,
        { limit: 200 },
      ),
    [storeId, sku],
  );
  if (list.loading) return <Loading />;
  if (list.error) return <Alert kind="error">{describeError(list.error)}</Alert>;
  return (
    <div class="detail">
      <h3 class="sub">{sku} 的库存变动</h3>
      {list.data!.items.map((m) => (
        <article key={m.seq} class="item" aria-label={`第 ${m.seq} 笔变动`}>
          <p>
            第 {m.seq} 笔 · {beijing(m.createdAt)} · {MOVEMENT_KINDS[m.kind] ?? m.kind}{' '}
            {m.delta > 0 ? `+${m.delta}` : m.delta} · 结存 {m.stockAfter}
            {m.reason ? ` · ${m.reason}` : ''}
          </p>
          <FlagForm
            target={{ type: 'stock_movement', storeId, sku, seq: m.seq }}
            label={`第 ${m.seq} 笔变动`}
          />
        </article>
      ))}
    </div>
  );
}

function FlagForm({ target, label }: { target: Record<string, unknown>; label: string }) {
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState('');
  const [result, setResult] = useState<{ ok?: string; error?: string }>({});
  async function send() {
    if (!reason.trim()) {
      setResult({ error: '请在“反映内容”中写明发现了什么问题。' });
      return;
    }
    try {
      await post('/v1/oversight-flags', { target, reason: reason.trim() });
      setReason('');
      setOpen(false);
      setResult({ ok: '已反映到乡镇实践所，可在“我的反映”中查看办理情况。' });
    } catch (err) {
      setResult({ error: describeError(err, { reason: '反映内容' }) });
    }
  }
  return (
    <>
      {open ? (
        <div class="action">
          <TextArea
            label={`反映内容（${label}）`}
            name="flagReason"
            rows={2}
            value={reason}
            onValue={setReason}
            required
          />
          <div class="buttons">
            <button type="button" class="danger" onClick={send}>
              反映到乡镇
            </button>
            <button type="button" onClick={() => setOpen(false)}>
              取消
            </button>
          </div>
        </div>
      ) : (
        <button type="button" class="link-button" onClick={() => setOpen(true)}>
          反映问题：{label}
        </button>
      )}
      <Outcome of={result} />
    </>
  );
}

// ------------------------------------------------------------------------------------------
// 亲属关系 (the roster behind the 人情分 report), kept by the clerk

interface Kinship {
  householdId: string;
  lineage: string | null;
  relatedHouseholdIds: string[];
  updatedAt: string | null;
}

/** At most this many linked households per household (the API's limit). */
const RELATED_MAX = 30;

export function KinshipPage() {
  const households = useLoad(() => loadVillageHouseholds(), []);
  const [id, setId] = useState('');
  return (
    <>
      <h1>亲属关系登记</h1>
      <p class="lead">
        登记各户的宗族（姓氏支系）和有亲属关系的农户。“人情分分析”据此判断评议员的同意票是否集中落在自家亲属或同一宗族身上。
      </p>
      <Section title="选择农户">
        {households.error ? <Alert kind="error">{describeError(households.error)}</Alert> : null}
        <HouseholdSelect
          name="kinHousehold"
          households={households.data ?? []}
          value={id}
          onValue={setId}
        />
      </Section>
      {id && households.data ? <KinshipForm key={id} id={id} households={households.data} /> : null}
    </>
  );
}

function KinshipForm({ id, households }: { id: string; households: Household[] }) {
  const current = useLoad(() => get<Kinship>(`/v1/households/${id}/kinship`), [id]);
  const [lineage, setLineage] = useState<string | undefined>(undefined);
  const [related, setRelated] = useState<string[] | undefined>(undefined);
  const [filter, setFilter] = useState('');
  const [result, setResult] = useState<{ ok?: string; error?: string }>({});
  if (current.loading && !current.data) return <Loading />;
  if (current.error) return <Alert kind="error">{describeError(current.error)}</Alert>;
  const k = current.data!;
  const line = lineage ?? k.lineage ?? '';
  const linked = related ?? k.relatedHouseholdIds;
  const head = households.find((h) => h.id === id)?.head ?? '';
  const name = householdNames(households);
  const others = households.filter(
    (h) =>
      h.id !== id &&
      (!filter.trim() ||
        h.head.includes(filter.trim()) ||
        h.cardNo.toLowerCase().includes(filter.trim().toLowerCase())),
  );
  async function save() {
    if (linked.length > RELATED_MAX) {
      setResult({ error: `最多关联 ${RELATED_MAX} 户，请去掉一些。` });
      return;
    }
    try {
      await api(`/v1/households/${id}/kinship`, {
        method: 'PUT',
        body: { lineage: line.trim() || null, relatedHouseholdIds: linked },
      });
      setResult({ ok: `已保存 ${head} 户的亲属关系。` });
      current.reload();
    } catch (err) {
      setResult({
        error: describeError(err, { lineage: '宗族', relatedHouseholdIds: '有亲属关系的农户' }),
      });
    }
  }
  return (
    <Section title={`${head} 户的亲属关系`}>
      {k.updatedAt ? <p class="meta">上次登记于 {beijing(k.updatedAt)}</p> : null}
      <Field
        label="宗族（姓氏支系）"
        name="lineage"
        value={line}
        onValue={setLineage}
        hint="如：王氏二房。不清楚可不填。"
      />
      <p>
        已关联 {linked.length} 户
        {linked.length ? `：${linked.map((x) => name.get(x) ?? '农户').join('、')}` : ''}
      </p>
      <Field
        label="查找农户（姓名或卡号）"
        name="kinFilter"
        type="search"
        value={filter}
        onValue={setFilter}
      />
      <fieldset class="checks">
        <legend>有亲属关系的农户（可多选，最多 {RELATED_MAX} 户）</legend>
        {others.slice(0, 60).map((h) => (
          <label key={h.id} class="check">
            <input
              type="checkbox"
              name="related"
              checked={linked.includes(h.id)}
              onChange={(e) => {
                const on = (e.currentTarget as HTMLInputElement).checked;
                setRelated(on ? [...linked, h.id] : linked.filter((x) => x !== h.id));
              }}
            />{' '}
            {h.head}（{h.cardNo}）
          </label>
        ))}
        {others.length > 60 ? <p class="hint">只列出前 60 户，请用上面的查找缩小范围。</p> : null}
      </fieldset>
      <div class="buttons">
        <button type="button" class="primary" onClick={save}>
          保存
        </button>
      </div>
      <Outcome of={result} />
    </Section>
  );
}
