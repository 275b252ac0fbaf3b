/**
 * 志愿者与服务队 and 考评指数 (issue 11): the real-name register of volunteers (the ID number is
 * sent once and never shown again: only its masked form), each volunteer's hours record, the
 * teams by category with their members over time, and the monthly rankings of stations and
 * teams. Used by the clerk, the township station and the county office; the rankings by
 * everyone of the county.
 */
import { useMemo, useState } from 'preact/hooks';
import { ApiError, del, get, post } from '../api';
import { beijing, thisMonthCst } from '../format';
import { describeError } from '../messages';
import { session } from '../session';
import type { Hours, HoursLink, Volunteer } from '../shapes';

export type { Volunteer };
import {
  Alert,
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
  useLoad,
} from '../ui';
import { householdLabel, loadVillageHouseholds } from './common';
import {
  categoryName,
  LEVEL_NAMES,
  loadMenu,
  loadTeams,
  type Team,
  type TeamDetail,
} from './service';

const TABS = [
  { path: '/volunteers', label: '志愿者' },
  { path: '/volunteers/teams', label: '服务队' },
  { path: '/rankings', label: '考评指数' },
];

const me = () => session.get()?.me;

/** The villages a township station or the county office picks from; a clerk has its own. */
export function useVillages() {
  return useLoad(async () => {
    const m = me();
    if (m?.role !== 'township' && m?.role !== 'admin') return [];
    return (await get<{ items: { id: string; name: string }[] }>('/v1/villages')).items;
  }, []);
}

export function VolunteersPage({ path }: { path: string }) {
  const current = path.startsWith('/volunteers/teams') ? '/volunteers/teams' : '/volunteers';
  return (
    <>
      <h1>志愿者与服务队</h1>
      <Tabs tabs={TABS} current={current} />
      {current === '/volunteers/teams' ? <Teams /> : <Volunteers path={path} />}
    </>
  );
}

function VillagePicker({ value, onValue }: { value: string; onValue: (v: string) => void }) {
  const villages = useVillages();
  if (me()?.role === 'clerk') return null;
  return (
    <Select
      label="村"
      name="villageId"
      value={value}
      onValue={onValue}
      placeholder="请选择村"
      options={(villages.data ?? []).map((v) => ({ value: v.id, label: v.name }))}
    />
  );
}

function Volunteers({ path }: { path: string }) {
  const detailId = /\/volunteers\/([a-f0-9]{24})$/.exec(path)?.[1];
  const [villageId, setVillageId] = useState(me()?.villageId ?? '');
  const list = useLoad(
    () =>
      villageId || me()?.role === 'clerk'
        ? get<{ items: Volunteer[] }>('/v1/volunteers', {
            villageId: villageId || undefined,
            limit: 500,
          })
        : Promise.resolve({ items: [] as Volunteer[] }),
    [villageId],
  );
  if (detailId) return <HoursRecord id={detailId} />;
  return (
    <>
      <VillagePicker value={villageId} onValue={setVillageId} />
      <Register villageId={villageId} onDone={list.reload} />
      <Section title="志愿者名册" actions={<RefreshButton onClick={list.reload} />}>
        <LoadStatus of={list} />
        {list.data && !list.data.items.length ? <Empty>还没有登记志愿者。</Empty> : null}
        {list.data?.items.length ? (
          <div class="table-wrap" tabIndex={0} role="region" aria-label="表格，可左右滚动">
            <table>
              <caption class="sr-only">志愿者名册</caption>
              <thead>
                <tr>
                  <th scope="col">姓名</th>
                  <th scope="col">身份证号</th>
                  <th scope="col">本村农户</th>
                  <th scope="col">累计时长</th>
                </tr>
              </thead>
              <tbody>
                {list.data.items.map((v) => (
                  <tr key={v.id}>
                    <td class="nowrap">
                      <Link href={`/volunteers/${v.id}`}>{v.name}</Link>
                    </td>
                    <td class="nowrap">{v.idNumberMasked}</td>
                    <td>{v.householdId ? '是' : '村外'}</td>
                    <td>{v.hours} 小时</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
      </Section>
    </>
  );
}

const REGISTER_LABELS = {
  name: '姓名',
  idNumber: '身份证号',
  householdId: '所属农户',
  phone: '手机号',
};

function Register({ villageId, onDone }: { villageId: string; onDone: () => void }) {
  const clerk = me()?.role === 'clerk';
  const households = useLoad(
    () =>
      clerk || villageId
        ? loadVillageHouseholds(clerk ? undefined : villageId).catch(() => [])
        : Promise.resolve([]),
    [villageId],
  );
  // The ID number is never kept in a draft (sessionStorage) and cleared once sent.
  const [f, setF] = useState({ name: '', idNumber: '', householdId: '', phone: '' });
  const [errs, setErrs] = useState<Record<string, string>>({});
  const [result, setResult] = useState<{ ok?: string; error?: string }>({});
  const [busy, setBusy] = useState(false);
  async function send(e: Event) {
    e.preventDefault();
    const er: Record<string, string> = {};
    if (!f.name.trim()) er.name = '请填写志愿者的真实姓名。';
    if (!/^\d{17}[\dXx]$/.test(f.idNumber.trim()))
      er.idNumber = '请填写 18 位居民身份证号（最后一位可能是 X）。';
    if (f.phone && !/^\+?[0-9-]{5,20}$/.test(f.phone)) er.phone = '手机号只能写数字。';
    if (!clerk && !villageId) er.villageId = '请先选择村。';
    setErrs(er);
    if (Object.keys(er).length) {
      setResult({ error: Object.values(er).join(' ') });
      return;
    }
    setBusy(true);
    try {
      const v = await post<Volunteer>('/v1/volunteers', {
        name: f.name.trim(),
        idNumber: f.idNumber.trim().toUpperCase(),
        ...(f.householdId ? { householdId: f.householdId } : {}),
        ...(f.phone ? { phone: f.phone } : {}),
        ...(!clerk && villageId ? { villageId } : {}),
      });
      setF({ name: '', idNumber: '', householdId: '', phone: '' });
      setResult({ ok: `已登记志愿者 ${v.name}（身份证号 ${v.idNumberMasked}）。` });
      onDone();
    } catch (err) {
      setF((x) => ({ ...x, idNumber: '' }));
      if (err instanceof ApiError && err.status === 409)
        setResult({ error: '这个身份证号已经登记过了，请在名册中查找。' });
      else if (err instanceof ApiError && err.errors.some((x) => /idNumber/.test(x.path)))
        setResult({ error: '“身份证号”校验不通过，请核对后重新填写。' });
      else setResult({ error: describeError(err, REGISTER_LABELS) });
    } finally {
      setBusy(false);
    }
  }
  return (
    <Section title="登记志愿者（实名）">
      <form onSubmit={send} noValidate>
        <Field
          label={REGISTER_LABELS.name}
          name="name"
          value={f.name}
          onValue={(v) => setF({ ...f, name: v })}
          error={errs.name}
          required
        />
        <Field
          label={REGISTER_LABELS.idNumber}
          name="idNumber"
          value={f.idNumber}
          onValue={(v) => setF({ ...f, idNumber: v })}
          hint="只用于核对身份，系统只保存核验码，页面只显示打码后的号码。"
          error={errs.idNumber}
          autoComplete="off"
          required
        />
        <Select
          label={REGISTER_LABELS.householdId}
          name="householdId"
          value={f.householdId}
          onValue={(v) => setF({ ...f, householdId: v })}
          placeholder="不是本村农户（如外来教师）"
          options={(households.data ?? []).map((h) => ({
            value: h.id,
            label: householdLabel(h),
          }))}
          hint="本村农户成员的服务时长会为其家庭折算积分；村外志愿者只记时长。"
        />
        <Field
          label={REGISTER_LABELS.phone}
          name="phone"
          inputMode="numeric"
          value={f.phone}
          onValue={(v) => setF({ ...f, phone: v })}
          error={errs.phone}
        />
        <div class="buttons">
          <button type="submit" class="primary" disabled={busy}>
            登记
          </button>
        </div>
      </form>
      <Outcome of={result} />
    </Section>
  );
}

const ZERO_HASH = '0'.repeat(64);

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Recomputes a volunteer's hours chain in the browser, as the service computes it: each link's
 * hash is SHA-256 of the RFC 8785 JSON of {date, hours, orderId, prevHash, seq, totalAfter,
 * volunteerId} (keys in code-point order; the values are ASCII strings and numbers, which
 * JSON.stringify writes as RFC 8785 does). Returns null when every link holds, else where and
 * why the chain breaks.
 */
async function verifyHours(
  volunteerId: string,
): Promise<{ links: number; broken: null | { seq: number; date: string; why: string } }> {
  let prev: HoursLink | null = null;
  let links = 0;
  let after = 0;
  for (;;) {
    const page: Hours = await get<Hours>(`/v1/volunteers/${volunteerId}/hours`, {
      after: after || undefined,
      limit: 500,
    });
    for (const l of page.items) {
      links += 1;
      const at = { seq: l.seq, date: l.date };
      if (l.seq !== (prev?.seq ?? 0) + 1)
        return { links, broken: { ...at, why: `之前缺少第 ${(prev?.seq ?? 0) + 1} 条` } };
      if (l.prevHash !== (prev?.hash ?? ZERO_HASH))
        return { links, broken: { ...at, why: '与上一条记录接不上（前一条的指纹不符）' } };
      if (Math.abs(l.totalAfter - ((prev?.totalAfter ?? 0) + l.hours)) > 1e-9)
        return { links, broken: { ...at, why: '累计时长与各次时长之和不符' } };
      const canonical = JSON.stringify({
        date: l.date,
        hours: l.hours,
        orderId: l.orderId,
        prevHash: l.prevHash,
        seq: l.seq,
        totalAfter: l.totalAfter,
        volunteerId,
      });
      if ((await sha256Hex(canonical)) !== l.hash)
        return { links, broken: { ...at, why: '内容被改动过（重算的指纹不符）' } };
      prev = l;
    }
    if (page.next === null || !page.items.length) return { links, broken: null };
    after = page.next;
  }
}

function VerifyHours({ id }: { id: string }) {
  const [state, setState] = useState<
    | { kind: 'idle' }
    | { kind: 'busy' }
    | { kind: 'done'; result: Awaited<ReturnType<typeof verifyHours>> }
    | { kind: 'error'; error: unknown }
  >({ kind: 'idle' });
  async function run() {
    setState({ kind: 'busy' });
    try {
      setState({ kind: 'done', result: await verifyHours(id) });
    } catch (error) {
      setState({ kind: 'error', error });
    }
  }
  return (
    <div class="verify">
      <button type="button" onClick={run} disabled={state.kind === 'busy'}>
        核验时长记录
      </button>
      <span class="meta">
        {' '}
        在本机逐条重算每条记录的指纹（SHA-256），确认记录前后相接、没有被改动。
      </span>
      <div aria-live="polite">
        {state.kind === 'busy' ? <Loading what="并核验时长记录" /> : null}
        {state.kind === 'error' ? <Alert kind="error">{describeError(state.error)}</Alert> : null}
        {state.kind === 'done' && !state.result.broken ? (
          <Alert kind="ok">核验通过：{state.result.links} 条记录前后相接，指纹全部相符。</Alert>
        ) : null}
        {state.kind === 'done' && state.result.broken ? (
          <Alert kind="error">
            核验未通过：第 {state.result.broken.seq} 条记录（{state.result.broken.date}）
            {state.result.broken.why}。请报告县中心。
          </Alert>
        ) : null}
      </div>
    </div>
  );
}

function HoursRecord({ id }: { id: string }) {
  const data = useLoad(
    () =>
      Promise.all([
        get<Volunteer>(`/v1/volunteers/${id}`),
        get<Hours>(`/v1/volunteers/${id}/hours`, { limit: 500 }),
      ]),
    [id],
  );
  if (data.loading) return <Loading />;
  if (data.error) return <Alert kind="error">{describeError(data.error)}</Alert>;
  const [v, h] = data.data!;
  return (
    <Section title={`${v.name} 的志愿服务时长`}>
      <p>
        <Link href="/volunteers">← 回到名册</Link>
      </p>
      <dl class="balances">
        <div>
          <dt>累计服务时长</dt>
          <dd class="big">{h.total} 小时</dd>
        </div>
        <div>
          <dt>身份证号</dt>
          <dd>{v.idNumberMasked}</dd>
        </div>
      </dl>
      {h.milestones.length ? (
        <p>
          里程碑：
          {h.milestones
            .map(
              (m) =>
                `${m.hours} 小时（${beijing(m.reachedAt, false)}${m.submissionId ? '，已申报表彰' : ''}）`,
            )
            .join('、')}
        </p>
      ) : (
        <p class="meta">满 100、300、1000 小时时，系统自动为其申报表彰。</p>
      )}
      {h.items.length ? <VerifyHours id={id} /> : null}
      {h.items.length ? (
        <div class="table-wrap" tabIndex={0} role="region" aria-label="表格，可左右滚动">
          <table>
            <caption class="sr-only">每次服务的时长</caption>
            <thead>
              <tr>
                <th scope="col">服务日期</th>
                <th scope="col">时长</th>
                <th scope="col">累计</th>
                <th scope="col">订单</th>
              </tr>
            </thead>
            <tbody>
              {h.items.map((x) => (
                <tr key={x.seq}>
                  <td class="nowrap">{x.date}</td>
                  <td>{x.hours} 小时</td>
                  <td>{x.totalAfter} 小时</td>
                  <td>
                    <Link href={`/service/orders/${x.orderId}`}>查看订单</Link>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        <Empty>还没有经农户评价的服务记录。</Empty>
      )}
    </Section>
  );
}

// ------------------------------------------------------------------------------------------
// 服务队

function Teams() {
  const menu = useLoad(loadMenu, []);
  const teams = useLoad(() => loadTeams(true), []);
  const [open, setOpen] = useState('');
  const byCategory = useMemo(() => {
    const groups = new Map<string, Team[]>();
    for (const t of teams.data ?? [])
      groups.set(t.category, [...(groups.get(t.category) ?? []), t]);
    return [...groups.entries()];
  }, [teams.data]);
  return (
    <>
      <NewTeam onDone={teams.reload} />
      <Section title="服务队（按类别）">
        <LoadStatus of={teams} />
        {teams.data && !teams.data.length ? <Empty>还没有服务队。</Empty> : null}
        {byCategory.map(([cat, list]) => (
          <div key={cat} class="group">
            <h3 class="sub">{categoryName(menu.data, cat)}</h3>
            {list.map((t) => (
              <article key={t.id} class="item">
                <div class="item-head">
                  <strong>{t.name}</strong>
                  <span>{LEVEL_NAMES[t.level]}</span>
                </div>
                <button
                  type="button"
                  class="link-button"
                  aria-expanded={open === t.id}
                  onClick={() => setOpen(open === t.id ? '' : t.id)}
                >
                  {open === t.id ? '收起' : '队员和加入退出记录'}
                </button>
                {open === t.id ? <TeamMembers id={t.id} /> : null}
              </article>
            ))}
          </div>
        ))}
      </Section>
    </>
  );
}

function NewTeam({ onDone }: { onDone: () => void }) {
  const m = me();
  const menu = useLoad(loadMenu, []);
  const [f, setF] = useState({ name: '', category: '' });
  const [result, setResult] = useState<{ ok?: string; error?: string }>({});
  async function send(e: Event) {
    e.preventDefault();
    if (!f.name.trim() || !f.category) {
      setResult({ error: '请填写“队名”并选择“服务类别”。' });
      return;
    }
    const place =
      m?.role === 'clerk'
        ? { level: 'village', villageId: m.villageId }
        : m?.role === 'township'
          ? { level: 'township', townshipId: m.townshipId }
          : { level: 'county' };
    try {
      await post('/v1/teams', { name: f.name.trim(), category: f.category, ...place });
      setF({ name: '', category: '' });
      setResult({ ok: '已建立服务队。' });
      onDone();
    } catch (err) {
      setResult({ error: describeError(err, { name: '队名', category: '服务类别' }) });
    }
  }
  return (
    <Section title="建立服务队">
      <form onSubmit={send} noValidate>
        <Field
          label="队名"
          name="teamName"
          value={f.name}
          onValue={(v) => setF({ ...f, name: v })}
          required
        />
        <Select
          label="服务类别"
          name="teamCategory"
          value={f.category}
          onValue={(v) => setF({ ...f, category: v })}
          placeholder="请选择类别"
          options={(menu.data ?? []).map((c) => ({ value: c.code, label: c.name }))}
          required
        />
        <div class="buttons">
          <button type="submit">建立</button>
        </div>
      </form>
      <Outcome of={result} />
    </Section>
  );
}

function TeamMembers({ id }: { id: string }) {
  const team = useLoad(() => get<TeamDetail>(`/v1/teams/${id}`), [id]);
  const villageId = team.data?.villageId ?? me()?.villageId;
  const volunteers = useLoad(
    () =>
      villageId
        ? get<{ items: Volunteer[] }>('/v1/volunteers', { villageId, limit: 500 }).then(
            (r) => r.items,
          )
        : Promise.resolve([] as Volunteer[]),
    [villageId],
  );
  const [pick, setPick] = useState('');
  const [result, setResult] = useState<{ ok?: string; error?: string }>({});
  const names = new Map((volunteers.data ?? []).map((v) => [v.id, v.name]));
  for (const x of team.data?.members ?? []) names.set(x.volunteerId, x.name);
  async function act(fn: () => Promise<unknown>, ok: string) {
    try {
      await fn();
      setResult({ ok });
      team.reload();
    } catch (err) {
      setResult({
        error:
          err instanceof ApiError && err.status === 409
            ? '该志愿者已在队中，或已不在队中。'
            : describeError(err),
      });
    }
  }
  if (team.loading && !team.data) return <Loading />;
  if (team.error) return <Alert kind="error">{describeError(team.error)}</Alert>;
  const t = team.data!;
  const outside = (volunteers.data ?? []).filter(
    (v) => !t.members.some((x) => x.volunteerId === v.id),
  );
  return (
    <div class="detail">
      {t.members.length ? (
        <ul class="plain">
          {t.members.map((x) => (
            <li key={x.volunteerId}>
              {x.name}（{beijing(x.since, false)} 加入）{' '}
              <button
                type="button"
                class="link-button"
                onClick={() =>
                  act(
                    () => del(`/v1/teams/${id}/members/${x.volunteerId}`),
                    `${x.name} 已退出本队。`,
                  )
                }
              >
                退出本队
              </button>
            </li>
          ))}
        </ul>
      ) : (
        <Empty>还没有队员。</Empty>
      )}
      {outside.length ? (
        <div class="inline-form">
          <Select
            label="加入队员"
            name={`join-${id}`}
            value={pick}
            onValue={setPick}
            placeholder="请选择志愿者"
            options={outside.map((v) => ({
              value: v.id,
              label: `${v.name}（${v.idNumberMasked}）`,
            }))}
          />
          <button
            type="button"
            onClick={() =>
              pick
                ? act(() => post(`/v1/teams/${id}/members`, { volunteerId: pick }), '已加入本队。')
                : setResult({ error: '请先选择志愿者。' })
            }
          >
            加入
          </button>
        </div>
      ) : null}
      <h3 class="sub">加入和退出记录</h3>
      <ol class="history">
        {t.history.map((x) => (
          <li key={x.seq}>
            <time>{beijing(x.at)}</time> {names.get(x.volunteerId) ?? '志愿者'}
            {x.type === 'join' ? '加入' : '退出'}
          </li>
        ))}
      </ol>
      <Outcome of={result} />
    </div>
  );
}

// ------------------------------------------------------------------------------------------
// 考评指数

interface Ranking {
  period: string;
  level: string;
  computedAt: string;
  final: boolean;
  items: {
    id: string;
    name: string;
    rank: number;
    index: number;
    ordersCompleted: number;
    averageStars: number | null;
    takeTimeHours: number | null;
    hoursPerResident: number | null;
    activeHouseholdShare: number | null;
    pointsAwarded: number;
  }[];
}

const dash = (n: number | null, f: (x: number) => string = String) => (n === null ? '—' : f(n));

export function RankingsPage() {
  const m = me();
  const manager = ['clerk', 'township', 'admin'].includes(m?.role ?? '');
  const [period, setPeriod] = useState(thisMonthCst());
  const [level, setLevel] = useState('village');
  const data = useLoad(
    () =>
      /^\d{4}-(0[1-9]|1[0-2])$/.test(period)
        ? get<Ranking>('/v1/rankings', { period, level })
        : Promise.resolve(undefined),
    [period, level],
  );
  return (
    <>
      <h1>考评指数排名</h1>
      {manager ? <Tabs tabs={TABS} current="/rankings" /> : null}
      <Section title="每月考评指数">
        <p class="lead">
          考评指数综合六项：完成订单数、平均评分、接单用时、人均服务时长、参与户占比、发放积分，按月计算、留档可查；本月为临时结果，月初重新计算后定稿。
        </p>
        <div class="inline-form">
          <Field
            label="月份"
            name="period"
            type="text"
            inputMode="numeric"
            placeholder="2026-03"
            value={period}
            onValue={setPeriod}
            hint="格式：年-月，如 2026-03"
          />
          <Select
            label="排名对象"
            name="level"
            value={level}
            onValue={setLevel}
            options={[
              { value: 'township', label: '乡镇实践所' },
              { value: 'village', label: '村实践站' },
              { value: 'team', label: '志愿服务队' },
            ]}
          />
        </div>
        {data.loading ? <Loading /> : null}
        {data.error ? (
          <Alert kind="error">{describeError(data.error, { period: '月份' })}</Alert>
        ) : null}
        {data.data ? (
          <>
            <p class="meta">
              {data.data.final ? '已定稿' : '本月临时结果'} · 计算于 {beijing(data.data.computedAt)}
            </p>
            {data.data.items.length ? (
              <div class="table-wrap" tabIndex={0} role="region" aria-label="表格，可左右滚动">
                <table class="ranking">
                  <caption class="sr-only">{data.data.period} 考评指数排名</caption>
                  <thead>
                    <tr>
                      <th scope="col">名次</th>
                      <th scope="col">名称</th>
                      <th scope="col">考评指数</th>
                      <th scope="col">完成订单</th>
                      <th scope="col">平均评分</th>
                      <th scope="col">接单用时</th>
                      <th scope="col">人均时长</th>
                      <th scope="col">参与户占比</th>
                      <th scope="col">发放积分</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.data.items.map((x) => (
                      <tr key={x.id}>
                        <td>{x.rank}</td>
                        <th scope="row">{x.name}</th>
                        <td>{x.index.toFixed(1)}</td>
                        <td>{x.ordersCompleted}</td>
                        <td>{dash(x.averageStars, (n) => `${n.toFixed(1)} 星`)}</td>
                        <td>{dash(x.takeTimeHours, (n) => `${n.toFixed(1)} 小时`)}</td>
                        <td>{dash(x.hoursPerResident, (n) => `${n.toFixed(2)} 小时`)}</td>
                        <td>{dash(x.activeHouseholdShare, (n) => `${Math.round(n * 100)}%`)}</td>
                        <td>{x.pointsAwarded}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            ) : (
              <Empty>这个月还没有可排名的记录。</Empty>
            )}
          </>
        ) : null}
      </Section>
    </>
  );
}
