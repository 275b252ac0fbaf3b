/**
 * 志愿服务: the service-order loop 点单 → 派单 → 接单 → 评单 (issue 11).
 *
 * - A household (or the clerk for it) orders a service from the county's menu and rates it
 *   once it is done; the order's timeline shows every step.
 * - The station (the clerk for its village, the township station for escalated orders, the
 *   county office) dispatches an order to a team of its category.
 * - A team member (a login linked to a volunteer of the team), or the clerk for the team,
 *   claims an open order, accepts it naming the volunteers, and marks it done with each
 *   volunteer's hours.
 * Every step may answer 409 (out of order, or someone was faster): the order is read again.
 */
import { useMemo, useState } from 'preact/hooks';
import { ApiError, get, post } from '../api';
import { useDraft } from '../drafts';
import { beijing, todayCst, todayUtc } from '../format';
import { describeError } from '../messages';
import { session, type Me } from '../session';
import {
  Alert,
  Badge,
  byPath,
  Empty,
  Field,
  Link,
  Loading,
  LoadStatus,
  RefreshButton,
  Section,
  Select,
  Tabs,
  TextArea,
  useLoad,
} from '../ui';
import { householdLabel, householdNames, loadVillageHouseholds } from './common';
import type { Order, OrderRow } from '../shapes';

export type { Order, OrderRow };

export interface MenuCategory {
  code: string;
  name: string;
  items: { code: string; name: string }[];
}

export interface Team {
  id: string;
  name: string;
  category: string;
  level: 'county' | 'township' | 'village';
  villageId?: string;
  townshipId?: string;
}

export interface TeamDetail extends Team {
  members: { volunteerId: string; name: string; since: string }[];
  history: { volunteerId: string; type: 'join' | 'leave'; seq: number; at: string }[];
}

export const ORDER_STATUS: Record<string, string> = {
  ordered: '待派单',
  dispatched: '已派单，待接单',
  accepted: '已接单，服务中',
  completed: '已完成，待评价',
  rated: '已评价',
  escalated: '超时，已转乡镇实践所',
};

const HISTORY: Record<string, string> = {
  ordered: '点单',
  reminded: '提醒派单',
  dispatched: '派单',
  escalated: '超时转乡镇实践所',
  accepted: '接单',
  completed: '服务完成',
  rated: '评价',
  hours_recorded: '计入志愿服务时长',
  filed: '提交积分评议',
};

const BY_ROLE: Record<string, string> = {
  clerk: '村文书',
  township: '乡镇实践所',
  admin: '县中心',
  team_member: '服务队队员',
  household: '农户',
  system: '系统',
};

const SKIPPED: Record<string, string> = {
  no_rule: '本村未设志愿服务时长积分细则，未计积分',
  cap_reached: '该户本项积分已达上限，未再计分',
};

export const LEVEL_NAMES: Record<string, string> = {
  county: '县级',
  township: '乡镇级',
  village: '村级',
};

const me = (): Me | undefined => session.get()?.me;
const isStation = (m?: Me) => ['clerk', 'township', 'admin'].includes(m?.role ?? '');

export function orderTone(status: string): 'good' | 'bad' | 'wait' | 'plain' {
  if (status === 'rated') return 'good';
  if (status === 'escalated') return 'bad';
  return 'wait';
}

/** The county's menu, read once per page. */
let menuCache: Promise<MenuCategory[]> | undefined;
export function loadMenu(): Promise<MenuCategory[]> {
  menuCache ??= get<{ categories: MenuCategory[] }>('/v1/service-menu').then(
    (m) => m.categories,
    (err: unknown) => {
      menuCache = undefined;
      throw err;
    },
  );
  return menuCache;
}

export function categoryName(menu: MenuCategory[] | undefined, code: string): string {
  return menu?.find((c) => c.code === code)?.name ?? code;
}

const TABS: Record<string, { path: string; label: string }[]> = {
  household: [
    { path: '/service', label: '我要点单' },
    { path: '/service/orders', label: '我的订单' },
  ],
  clerk: [
    { path: '/service', label: '代农户点单' },
    { path: '/service/orders', label: '本村订单与派单' },
    { path: '/service/team', label: '服务队接单' },
  ],
  township: [{ path: '/service/orders', label: '辖区订单' }],
  admin: [{ path: '/service/orders', label: '全县订单' }],
};

export function ServicePage({ path }: { path: string }) {
  const m = me();
  const role = m?.role ?? 'household';
  const tabs = [...(TABS[role] ?? [])];
  if (m?.volunteerId && role !== 'clerk') tabs.push({ path: '/service/team', label: '我的服务队' });
  const current = path.startsWith('/service/orders')
    ? '/service/orders'
    : tabs.some((t) => t.path === path)
      ? path
      : (tabs[0]?.path ?? '/service/orders');
  return (
    <>
      <h1>志愿服务 · 点单</h1>
      <p class="lead">
        群众点单 → 实践站派单 → 服务队接单 → 群众评单。服务时长计入志愿者本人，按规定折算积分。
      </p>
      <Tabs tabs={tabs} current={current} />
      {byPath(
        current,
        {
          '/service': <OrderForm />,
          '/service/team': <TeamWork />,
        },
        <Orders />,
      )}
    </>
  );
}

// ------------------------------------------------------------------------------------------
// 点单

const ORDER_LABELS = {
  householdId: '为哪一户点单',
  itemCode: '服务项目',
  detail: '需要什么服务',
  wantedBy: '希望哪天前完成',
};

function OrderForm() {
  const m = me();
  const clerk = m?.role !== 'household';
  const menu = useLoad(loadMenu, []);
  const households = useLoad(
    () => (clerk ? loadVillageHouseholds() : Promise.resolve([])),
    [clerk],
  );
  const [d, set, clear, bind] = useDraft('service-order', {
    householdId: '',
    category: '',
    itemCode: '',
    what: '',
    where: '',
    wantedBy: '',
  });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [result, setResult] = useState<{ ok?: string; orderId?: string; error?: string }>({});
  const [busy, setBusy] = useState(false);
  const items = menu.data?.find((c) => c.code === d.category)?.items ?? [];

  async function send(e: Event) {
    e.preventDefault();
    const errs: Record<string, string> = {};
    const householdId = clerk ? d.householdId : (m?.householdId ?? '');
    if (!householdId) errs.householdId = '请选择为哪一户点单。';
    if (!d.category) errs.category = '请先选择服务类别。';
    if (!d.itemCode) errs.itemCode = '请选择服务项目。';
    if (!d.what.trim()) errs.what = '请写明需要什么服务。';
    if (!d.where.trim()) errs.where = '请写明服务地点，方便志愿者上门。';
    if (!d.wantedBy) errs.wantedBy = '请选择希望哪天前完成。';
    else if (d.wantedBy < todayCst()) errs.wantedBy = '日期不能早于今天。';
    setErrors(errs);
    if (Object.keys(errs).length) {
      setResult({ error: '还有内容没有填好，请看标红的地方。' });
      return;
    }
    setBusy(true);
    try {
      const o = await post<{ id: string }>('/v1/service-orders', {
        householdId,
        itemCode: d.itemCode,
        detail: `${d.what.trim()}（地点：${d.where.trim()}）`,
        wantedBy: d.wantedBy,
      });
      clear();
      setResult({ ok: '已点单。实践站会尽快派单给服务队，请在“订单”里查看进度。', orderId: o.id });
    } catch (err) {
      if (err instanceof ApiError && err.errors.length) {
        const fe: Record<string, string> = {};
        for (const f of err.errors) fe[f.path.replace(/^body\./, '')] = '填写有误，请检查。';
        setErrors(fe);
      }
      setResult({ error: describeError(err, ORDER_LABELS) });
    } finally {
      setBusy(false);
    }
  }

  return (
    <Section title={clerk ? '代农户点单' : '我要点单'}>
      {menu.loading ? <Loading what="服务菜单" /> : null}
      {menu.error ? <Alert kind="error">{describeError(menu.error)}</Alert> : null}
      <form onSubmit={send} noValidate>
        {clerk ? (
          <Select
            label={ORDER_LABELS.householdId}
            name="householdId"
            {...bind('householdId')}
            placeholder="请选择农户"
            options={(households.data ?? []).map((h) => ({
              value: h.id,
              label: householdLabel(h),
            }))}
            error={errors.householdId}
            required
          />
        ) : null}
        <Select
          label="服务类别"
          name="category"
          value={d.category}
          onValue={(v) => set({ category: v, itemCode: '' })}
          placeholder="请选择类别"
          options={(menu.data ?? []).map((c) => ({
            value: c.code,
            label: `${c.name}（${c.items.length} 项）`,
          }))}
          error={errors.category}
          required
        />
        <Select
          label={ORDER_LABELS.itemCode}
          name="itemCode"
          {...bind('itemCode')}
          placeholder={d.category ? '请选择项目' : '请先选择类别'}
          options={items.map((i) => ({ value: i.code, label: i.name }))}
          error={errors.itemCode}
          required
        />
        <TextArea
          label={ORDER_LABELS.detail}
          name="what"
          rows={2}
          {...bind('what')}
          hint="如：老人独居，需要打扫卫生、代买药品。"
          error={errors.what}
          required
        />
        <Field
          label="服务地点"
          name="where"
          {...bind('where')}
          hint="如：三组 12 号王家。"
          error={errors.where}
          required
        />
        <Field
          label={ORDER_LABELS.wantedBy}
          name="wantedBy"
          type="date"
          min={todayCst()}
          {...bind('wantedBy')}
          error={errors.wantedBy}
          required
        />
        <div class="buttons">
          <button type="submit" class="primary" disabled={busy}>
            {busy ? '正在提交…' : '提交点单'}
          </button>
        </div>
      </form>
      {result.ok ? (
        <Alert kind="ok">
          {result.ok} <Link href={`/service/orders/${result.orderId}`}>查看这张订单</Link>
        </Alert>
      ) : null}
      {result.error ? <Alert kind="error">{result.error}</Alert> : null}
    </Section>
  );
}

// ------------------------------------------------------------------------------------------
// Lists of orders

function Orders() {
  const m = me();
  const path = window.location.pathname;
  const open = /\/service\/orders\/([a-f0-9]{24})$/.exec(path)?.[1];
  const [status, setStatus] = useState(isStation(m) && m?.role !== 'admin' ? '' : '');
  const list = useLoad(
    () =>
      get<{ items: OrderRow[] }>('/v1/service-orders', { status: status || undefined, limit: 100 }),
    [status],
  );
  const names = useHouseholdNames();
  return (
    <Section
      title={m?.role === 'household' ? '我的订单' : '订单'}
      actions={<RefreshButton onClick={list.reload} />}
    >
      {isStation(m) ? (
        <Select
          label="按状态查看"
          name="status"
          value={status}
          onValue={setStatus}
          placeholder="全部订单"
          options={Object.entries(ORDER_STATUS).map(([value, label]) => ({ value, label }))}
        />
      ) : null}
      <LoadStatus of={list} />
      {list.data && !list.data.items.length ? <Empty>没有订单。</Empty> : null}
      {list.data?.items.map((o) => (
        <OrderCard
          key={o.id}
          row={o}
          names={names}
          initiallyOpen={o.id === open}
          onChanged={list.reload}
        />
      ))}
    </Section>
  );
}

/** Names of the village's households for a clerk (others see "本户" or the id's owner on demand). */
function useHouseholdNames(): Map<string, string> {
  const m = me();
  const list = useLoad(
    () =>
      m?.role === 'clerk' || m?.role === 'council'
        ? loadVillageHouseholds().catch(() => [])
        : Promise.resolve([]),
    [],
  );
  return useMemo(() => householdNames(list.data), [list.data]);
}

function who(names: Map<string, string>, householdId: string): string {
  if (me()?.householdId === householdId) return '本户';
  return names.get(householdId) ?? '农户';
}

/** The last step done on an order on this page, shown again when its card moves to another list. */
const notices = new Map<string, string>();

export function OrderCard({
  row,
  names,
  initiallyOpen,
  onChanged,
  teams,
  claimable,
}: {
  row: OrderRow;
  names: Map<string, string>;
  initiallyOpen?: boolean;
  onChanged: () => void;
  /** The teams the viewer works for (a member, or the clerk for them). */
  teams?: TeamDetail[];
  /**
   * An open order a team member may claim: the member cannot read the order itself before it is
   * the team's (the API answers 404), so the card offers the claim from the list row alone.
   */
  claimable?: boolean;
}) {
  const [open, setOpen] = useState(Boolean(initiallyOpen) || notices.has(row.id));
  return (
    <article class="item order" aria-label={`${row.itemName} 订单`}>
      <div class="item-head">
        <strong>{row.itemName}</strong>
        <Badge tone={orderTone(row.status)}>{ORDER_STATUS[row.status] ?? row.status}</Badge>
      </div>
      <p>
        {who(names, row.householdId)} · 点单于 {beijing(row.createdAt)} · 希望{' '}
        {row.wantedBy.slice(0, 10)} 前完成
      </p>
      <p class="evidence">{row.detail}</p>
      {row.status === 'ordered' || row.status === 'dispatched' ? (
        <p class="meta">{beijing(row.timeoutAt)} 前无人接单，将转乡镇实践所处理。</p>
      ) : null}
      {row.status === 'escalated' ? <p class="meta">已超时，现由乡镇实践所派单。</p> : null}
      {claimable && teams?.length && !isStation(me()) ? (
        <ClaimForm
          o={row}
          teams={teams}
          onDone={(message) => {
            if (message) notices.set(row.id, message);
            onChanged();
          }}
        />
      ) : (
        <>
          <button
            type="button"
            class="link-button"
            aria-expanded={open}
            onClick={() => setOpen(!open)}
          >
            {open ? '收起' : '查看进度和办理'}
          </button>
          {open ? (
            <OrderDetail id={row.id} names={names} onChanged={onChanged} teams={teams} />
          ) : null}
        </>
      )}
    </article>
  );
}

function OrderDetail({
  id,
  names,
  onChanged,
  teams,
}: {
  id: string;
  names: Map<string, string>;
  onChanged: () => void;
  teams?: TeamDetail[];
}) {
  const order = useLoad(() => get<Order>(`/v1/service-orders/${id}`), [id]);
  const [notice, setNotice] = useState(notices.get(id) ?? '');
  const team = useLoad(
    () =>
      order.data?.teamId
        ? get<TeamDetail>(`/v1/teams/${order.data.teamId}`).catch(() => undefined)
        : Promise.resolve(undefined),
    [order.data?.teamId],
  );
  if (order.loading && !order.data) return <Loading what="订单" />;
  if (order.error) return <Alert kind="error">{describeError(order.error)}</Alert>;
  const o = order.data!;
  const m = me();
  const volunteerName = (v: string) =>
    team.data?.members.find((x) => x.volunteerId === v)?.name ?? '志愿者';
  const changed = (message?: string) => {
    if (message) {
      notices.set(id, message);
      setNotice(message);
    }
    order.reload();
    onChanged();
  };
  const myTeam = o.teamId ? teams?.find((t) => t.id === o.teamId) : undefined;
  const forTeam = Boolean(myTeam) || (m?.role === 'clerk' && Boolean(o.teamId));
  const station =
    isStation(m) && (m?.role !== 'township' || o.status === 'escalated' || o.status === 'ordered');
  const rater = (m?.role === 'household' && m.householdId === o.householdId) || m?.role === 'clerk';
  return (
    <div class="detail">
      {notice ? <Alert kind="ok">{notice}</Alert> : null}
      <dl class="facts">
        <div>
          <dt>类别</dt>
          <dd>{o.categoryName}</dd>
        </div>
        {o.teamId ? (
          <div>
            <dt>服务队</dt>
            <dd>{team.data?.name ?? '—'}</dd>
          </div>
        ) : null}
        {o.volunteerIds.length ? (
          <div>
            <dt>志愿者</dt>
            <dd>{o.volunteerIds.map(volunteerName).join('、')}</dd>
          </div>
        ) : null}
        {o.hours.length ? (
          <div>
            <dt>服务时长</dt>
            <dd>
              {o.hours.map((h) => `${volunteerName(h.volunteerId)} ${h.hours} 小时`).join('、')}
              {o.servedOn ? `（${o.servedOn}）` : ''}
            </dd>
          </div>
        ) : null}
        {o.stars ? (
          <div>
            <dt>评价</dt>
            <dd>
              {'★'.repeat(o.stars)}
              {'☆'.repeat(5 - o.stars)}（{o.stars} 星）{o.comment ? `：${o.comment}` : ''}
            </dd>
          </div>
        ) : null}
      </dl>
      <h3 class="sub">办理经过</h3>
      <ol class="history">
        {o.history.map((h, i) => (
          <li key={i}>
            <time>{beijing(h.at)}</time> {HISTORY[h.type] ?? h.type}
            {h.byRole ? `（${BY_ROLE[h.byRole] ?? h.byRole}）` : ''}
          </li>
        ))}
      </ol>
      {o.submissions.length ? (
        <>
          <h3 class="sub">折算积分</h3>
          <ul class="plain">
            {o.submissions.map((s) => (
              <li key={s.volunteerId}>
                {volunteerName(s.volunteerId)}：
                {s.submissionId
                  ? '已为其家庭提交积分申报，按本村规定评议或公示。'
                  : (SKIPPED[s.skipped ?? ''] ?? `未计积分（${s.skipped ?? ''}）`)}
              </li>
            ))}
          </ul>
        </>
      ) : null}
      {(o.status === 'ordered' || o.status === 'escalated') && station ? (
        <DispatchForm o={o} onDone={changed} />
      ) : null}
      {(o.status === 'ordered' || o.status === 'escalated') && !station && teams?.length ? (
        <ClaimForm o={o} teams={teams} onDone={changed} />
      ) : null}
      {o.status === 'dispatched' && forTeam && team.data ? (
        <AcceptForm o={o} team={team.data} onDone={changed} />
      ) : null}
      {o.status === 'accepted' && forTeam ? (
        <CompleteForm o={o} name={volunteerName} onDone={changed} />
      ) : null}
      {o.status === 'completed' && rater ? (
        <RateForm o={o} who={who(names, o.householdId)} onDone={changed} />
      ) : null}
    </div>
  );
}

/**
 * Runs one step of the loop. Its form disappears once the step is done (the order moved on), so
 * the success message goes up to the order (`onDone(message)`); errors stay by the form.
 */
function useStep(onDone: (message?: string) => void, labels: Record<string, string>) {
  const [result, setResult] = useState<{ error?: string }>({});
  const [busy, setBusy] = useState(false);
  async function run(path: string, body: unknown, ok: string) {
    setBusy(true);
    try {
      await post(path, body);
      setResult({});
      onDone(ok);
    } catch (err) {
      setResult({
        error:
          err instanceof ApiError && err.status === 409
            ? '这张订单刚被别人办理过，或当前状态不能这样做，已重新读取，请再看一下。'
            : describeError(err, labels),
      });
      if (err instanceof ApiError && err.status === 409) onDone();
    } finally {
      setBusy(false);
    }
  }
  const messages = result.error ? <Alert kind="error">{result.error}</Alert> : null;
  return { run, busy, messages, setResult };
}

/** Teams in reach, read once per page. */
let teamsCache: Promise<Team[]> | undefined;
export function loadTeams(refresh = false): Promise<Team[]> {
  if (refresh) teamsCache = undefined;
  teamsCache ??= get<{ items: Team[] }>('/v1/teams').then(
    (r) => r.items,
    (err: unknown) => {
      teamsCache = undefined;
      throw err;
    },
  );
  return teamsCache;
}

function DispatchForm({ o, onDone }: { o: Order; onDone: (message?: string) => void }) {
  const teams = useLoad(() => loadTeams(), []);
  const fit = (teams.data ?? []).filter(
    (t) => t.category === o.categoryCode && (t.level !== 'village' || t.villageId === o.villageId),
  );
  const [teamId, setTeamId] = useState('');
  const [err, setErr] = useState('');
  const step = useStep(onDone, { teamId: '服务队' });
  return (
    <div class="action">
      <h3 class="sub">派单</h3>
      {teams.data && !fit.length ? (
        <Alert kind="warn">没有“{o.categoryName}”类别的服务队。请先在“服务队”中建立。</Alert>
      ) : null}
      <Select
        label="派给哪支服务队"
        name="teamId"
        value={teamId}
        onValue={(v) => {
          setTeamId(v);
          setErr('');
        }}
        placeholder="请选择服务队"
        options={fit.map((t) => ({ value: t.id, label: `${t.name}（${LEVEL_NAMES[t.level]}）` }))}
        error={err}
        required
      />
      <div class="buttons">
        <button
          type="button"
          class="primary"
          disabled={step.busy}
          onClick={() => {
            if (!teamId) return setErr('请选择一支服务队。');
            void step.run(
              `/v1/service-orders/${o.id}/dispatch`,
              { teamId },
              '已派单，等待服务队接单。',
            );
          }}
        >
          派单
        </button>
      </div>
      {step.messages}
    </div>
  );
}

function ClaimForm({
  o,
  teams,
  onDone,
}: {
  o: OrderRow;
  teams: TeamDetail[];
  onDone: (message?: string) => void;
}) {
  const fit = teams.filter((t) => t.category === o.categoryCode);
  const step = useStep(onDone, { teamId: '服务队' });
  if (!fit.length) return null;
  return (
    <div class="action">
      {fit.map((t) => (
        <button
          key={t.id}
          type="button"
          class="primary"
          disabled={step.busy}
          onClick={() =>
            step.run(
              `/v1/service-orders/${o.id}/dispatch`,
              { teamId: t.id },
              `已由${t.name}认领，请接单并安排志愿者。`,
            )
          }
        >
          以“{t.name}”认领
        </button>
      ))}
      {step.messages}
    </div>
  );
}

function AcceptForm({
  o,
  team,
  onDone,
}: {
  o: Order;
  team: TeamDetail;
  onDone: (message?: string) => void;
}) {
  const [picked, setPicked] = useState<string[]>([]);
  const [err, setErr] = useState('');
  const step = useStep(onDone, { volunteerIds: '志愿者' });
  return (
    <div class="action">
      <h3 class="sub">接单：安排志愿者</h3>
      <fieldset class={`checks ${err ? 'has-error' : ''}`}>
        <legend>由哪些队员去服务（可多选）</legend>
        {team.members.map((v) => (
          <label key={v.volunteerId} class="check">
            <input
              type="checkbox"
              name="volunteer"
              checked={picked.includes(v.volunteerId)}
              onChange={(e) => {
                const on = (e.currentTarget as HTMLInputElement).checked;
                setPicked(
                  on ? [...picked, v.volunteerId] : picked.filter((x) => x !== v.volunteerId),
                );
                setErr('');
              }}
            />{' '}
            {v.name}
          </label>
        ))}
        {err ? <p class="error">{err}</p> : null}
      </fieldset>
      {!team.members.length ? (
        <Alert kind="warn">这支服务队还没有队员，请先登记志愿者并加入本队。</Alert>
      ) : null}
      <div class="buttons">
        <button
          type="button"
          class="primary"
          disabled={step.busy}
          onClick={() => {
            if (!picked.length) return setErr('请至少选一名志愿者。');
            void step.run(
              `/v1/service-orders/${o.id}/accept`,
              { volunteerIds: picked },
              '已接单，请按时上门服务。',
            );
          }}
        >
          接单
        </button>
      </div>
      {step.messages}
    </div>
  );
}

function CompleteForm({
  o,
  name,
  onDone,
}: {
  o: Order;
  name: (v: string) => string;
  onDone: (message?: string) => void;
}) {
  const [hours, setHours] = useState<Record<string, string>>({});
  const [servedOn, setServedOn] = useState(todayUtc());
  const [errs, setErrs] = useState<Record<string, string>>({});
  const step = useStep(onDone, { hours: '服务时长', servedOn: '服务日期' });
  function send() {
    const e: Record<string, string> = {};
    const lines = o.volunteerIds.map((v) => {
      const n = Number(hours[v] ?? '');
      if (!hours[v] || !(n > 0) || n > 24 || Math.round(n * 2) !== n * 2)
        e[v] = '请填写 0.5 到 24 之间的小时数，按半小时计（如 2 或 1.5）。';
      return { volunteerId: v, hours: n };
    });
    if (!servedOn) e.servedOn = '请填写服务日期。';
    else if (servedOn > todayUtc()) e.servedOn = '服务日期不能晚于今天。';
    setErrs(e);
    if (Object.keys(e).length) {
      step.setResult({ error: '还有时长没有填好，请看标红的地方。' });
      return;
    }
    void step.run(
      `/v1/service-orders/${o.id}/complete`,
      { hours: lines, servedOn },
      '已标记完成，等待农户评价。',
    );
  }
  return (
    <div class="action">
      <h3 class="sub">服务完成：登记每人时长</h3>
      {o.volunteerIds.map((v) => (
        <Field
          key={v}
          label={`${name(v)} 的服务时长（小时）`}
          name={`hours-${v}`}
          type="number"
          inputMode="decimal"
          min="0.5"
          max="24"
          step="0.5"
          value={hours[v] ?? ''}
          onValue={(x) => setHours({ ...hours, [v]: x })}
          error={errs[v]}
          required
        />
      ))}
      <Field
        label="服务日期"
        name="servedOn"
        type="date"
        max={todayUtc()}
        value={servedOn}
        onValue={setServedOn}
        hint="按这一天有效的积分细则折算积分。"
        error={errs.servedOn}
        required
      />
      <div class="buttons">
        <button type="button" class="primary" disabled={step.busy} onClick={send}>
          标记完成
        </button>
      </div>
      {step.messages}
    </div>
  );
}

function RateForm({
  o,
  who,
  onDone,
}: {
  o: Order;
  who: string;
  onDone: (message?: string) => void;
}) {
  const [d, set, clear, bind] = useDraft(`service-rate-${o.id}`, { stars: '', comment: '' });
  const [err, setErr] = useState('');
  const step = useStep(
    (message) => {
      clear();
      onDone(message);
    },
    { stars: '评分', comment: '评价意见' },
  );
  return (
    <div class="action">
      <h3 class="sub">评单（{who}）</h3>
      <fieldset class={`stars ${err ? 'has-error' : ''}`}>
        <legend>对这次服务打分（1–5 星，5 星最满意）</legend>
        {[1, 2, 3, 4, 5].map((n) => (
          <label key={n} class="check">
            <input
              type="radio"
              name={`stars-${o.id}`}
              value={String(n)}
              checked={d.stars === String(n)}
              onChange={() => {
                set({ stars: String(n) });
                setErr('');
              }}
            />{' '}
            {n} 星
          </label>
        ))}
        {err ? <p class="error">{err}</p> : null}
      </fieldset>
      <TextArea label="评价意见" name="comment" rows={2} {...bind('comment')} hint="可不填。" />
      <div class="buttons">
        <button
          type="button"
          class="primary"
          disabled={step.busy}
          onClick={() => {
            if (!d.stars) return setErr('请选择 1 到 5 星。');
            void step.run(
              `/v1/service-orders/${o.id}/rating`,
              {
                stars: Number(d.stars),
                ...(d.comment.trim() ? { comment: d.comment.trim() } : {}),
              },
              '谢谢评价。志愿者的服务时长已记录，并按规定为其家庭申报积分。',
            );
          }}
        >
          提交评价
        </button>
      </div>
      {step.messages}
    </div>
  );
}

// ------------------------------------------------------------------------------------------
// 接单: the team's work

/** The teams the viewer works for: a member's own teams, or the village's teams for its clerk. */
function loadMyTeams(): Promise<TeamDetail[]> {
  const m = me();
  return loadTeams().then(async (teams) => {
    const candidates =
      m?.role === 'clerk'
        ? teams.filter((t) => t.level === 'village' && t.villageId === m.villageId)
        : teams;
    const details = await Promise.all(candidates.map((t) => get<TeamDetail>(`/v1/teams/${t.id}`)));
    return m?.role === 'clerk'
      ? details
      : details.filter((t) => t.members.some((x) => x.volunteerId === m?.volunteerId));
  });
}

function TeamWork() {
  const teams = useLoad(loadMyTeams, []);
  const [teamId, setTeamId] = useState('');
  const names = useHouseholdNames();
  const team = teams.data?.find((t) => t.id === teamId) ?? teams.data?.[0];
  const open = useLoad(
    () =>
      team
        ? get<{ items: OrderRow[] }>('/v1/service-orders', { openFor: team.id, limit: 100 })
        : Promise.resolve({ items: [] }),
    [team?.id],
  );
  const mine = useLoad(
    () =>
      team
        ? get<{ items: OrderRow[] }>('/v1/service-orders', { teamId: team.id, limit: 100 })
        : Promise.resolve({ items: [] }),
    [team?.id],
  );
  const reload = () => {
    open.reload();
    mine.reload();
  };
  if (teams.loading) return <Loading what="服务队" />;
  if (teams.error) return <Alert kind="error">{describeError(teams.error)}</Alert>;
  if (!teams.data?.length)
    return <Empty>您还不是任何服务队的队员。请联系村文书登记志愿者并加入服务队。</Empty>;
  const working = (mine.data?.items ?? []).filter(
    (o) => o.status === 'dispatched' || o.status === 'accepted',
  );
  const done = (mine.data?.items ?? []).filter(
    (o) => o.status === 'completed' || o.status === 'rated',
  );
  return (
    <>
      {teams.data.length > 1 ? (
        <Select
          label="服务队"
          name="team"
          value={team?.id ?? ''}
          onValue={setTeamId}
          options={teams.data.map((t) => ({
            value: t.id,
            label: `${t.name}（${LEVEL_NAMES[t.level]}）`,
          }))}
        />
      ) : (
        <p class="lead">
          服务队：{team?.name}（{LEVEL_NAMES[team?.level ?? 'village']}）
        </p>
      )}
      <Section title="待认领的订单" actions={<RefreshButton onClick={reload} />}>
        {open.data && !open.data.items.length ? <Empty>没有本队可以认领的订单。</Empty> : null}
        {open.data?.items.map((o) => (
          <OrderCard
            claimable
            key={o.id}
            row={o}
            names={names}
            onChanged={reload}
            teams={team ? [team] : []}
          />
        ))}
      </Section>
      <TeamOrders
        title="本队正在办的订单"
        empty={mine.data && !working.length ? '没有正在办的订单。' : ''}
        rows={working}
        names={names}
        onChanged={reload}
        team={team}
      />
      <TeamOrders
        title="本队办完的订单"
        empty={mine.data && !done.length ? '还没有办完的订单。' : ''}
        rows={done}
        names={names}
        onChanged={reload}
        team={team}
      />
    </>
  );
}

/** The team's orders of one kind (being served, or served), each with what it may do next. */
function TeamOrders(p: {
  title: string;
  /** Said when the list is read and empty. */
  empty: string;
  rows: OrderRow[];
  names: Map<string, string>;
  onChanged: () => void;
  team: TeamDetail | undefined;
}) {
  return (
    <Section title={p.title}>
      {p.empty ? <Empty>{p.empty}</Empty> : null}
      {p.rows.map((o) => (
        <OrderCard
          key={o.id}
          row={o}
          names={p.names}
          onChanged={p.onChanged}
          teams={p.team ? [p.team] : []}
        />
      ))}
    </Section>
  );
}
