/**
 * 县中心管理员: villages and their council policies, users, the rule catalogue with versions,
 * stores with items and terminals, cooperatives and their areas, failed background jobs.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiError, get, post } from '../api';
import { useDraft } from '../drafts';
import { beijing } from '../format';
import { describeError, ROLE_NAMES } from '../messages';
import {
  Alert,
  Badge,
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
  useLoad,
} from '../ui';
import type { RuleVersion, Store, UserListItem as User, Village } from '../shapes';
import { AppealsSection } from './appeals';
import { ruleLabel } from './common';
import { api } from '../api';

const TABS = [
  { path: '/admin', label: '村和评议规则' },
  { path: '/admin/townships', label: '乡镇实践所' },
  { path: '/admin/menu', label: '服务菜单' },
  { path: '/admin/users', label: '用户' },
  { path: '/admin/rules', label: '积分细则' },
  { path: '/admin/stores', label: '公益超市' },
  { path: '/admin/cooperatives', label: '信用社' },
  { path: '/admin/appeals', label: '申诉复核' },
  { path: '/admin/jobs', label: '失败任务' },
];

interface Township {
  id: string;
  name: string;
  county: string;
  villageIds: string[];
}

const useTownships = () =>
  useLoad(() => get<{ items: Township[] }>('/v1/townships').then((r) => r.items), []);

const useVillages = () =>
  useLoad(() => get<{ items: Village[] }>('/v1/villages').then((r) => r.items), []);

export function AdminPage({ path }: { path: string }) {
  return (
    <>
      <h1>县新时代文明实践中心 · 管理</h1>
      <Tabs tabs={TABS} current={path} />
      <p class="meta">
        <Link href="/board">打开红黑榜大屏</Link>
      </p>
      {byPath(
        path,
        {
          '/admin/users': <Users />,
          '/admin/townships': <Townships />,
          '/admin/menu': <ServiceMenu />,
          '/admin/rules': <Rules />,
          '/admin/stores': <Stores />,
          '/admin/cooperatives': <Cooperatives />,
          '/admin/appeals': <Appeals />,
          '/admin/jobs': <Jobs />,
        },
        <Villages />,
      )}
    </>
  );
}

/** P7D → 7天; PT10M → 10分钟; PT0S → 不公示. */
function durationZh(iso: string): string {
  const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/.exec(iso);
  if (!m) return iso;
  const parts = [
    m[1] ? `${m[1]}天` : '',
    m[2] ? `${m[2]}小时` : '',
    m[3] ? `${m[3]}分钟` : '',
    m[4] && m[4] !== '0' ? `${m[4]}秒` : '',
  ].filter(Boolean);
  return parts.length ? parts.join('') : '不公示';
}

function Villages() {
  const villages = useVillages();
  const [editing, setEditing] = useState('');
  const v = villages.data?.find((x) => x.id === editing);
  return (
    <Section title="村和评议规则">
      <LoadStatus of={villages} />
      {villages.data ? (
        <div class="scroll-x" tabIndex={0} role="region" aria-label="各村的评议规则">
          <table>
            <caption class="sr-only">各村的评议规则</caption>
            <thead>
              <tr>
                <th scope="col">村</th>
                <th scope="col">通过票数</th>
                <th scope="col">公示期</th>
                <th scope="col">每日兑换上限</th>
                <th scope="col">
                  <span class="sr-only">操作</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {villages.data.map((x) => (
                <tr key={x.id}>
                  <td>
                    {x.name}（{x.code}，{x.township}）
                  </td>
                  <td>{x.policy.quorum}</td>
                  <td>{durationZh(x.policy.noticePeriod)}</td>
                  <td>
                    {x.policy.redemptionDailyLimit ? `${x.policy.redemptionDailyLimit} 分` : '不限'}
                  </td>
                  <td>
                    <button
                      type="button"
                      aria-label={`修改${x.name}的规则`}
                      onClick={() => setEditing(x.id)}
                    >
                      修改
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {v ? <VillagePolicy key={v.id} v={v} onSaved={villages.reload} /> : null}
      <NewVillage onSaved={villages.reload} />
    </Section>
  );
}

/** ISO-8601 durations of days, hours, minutes and seconds, as the service accepts them. */
const ISO_DURATION = /^P(?!$)(\d{1,4}D)?(T(?=\d)(\d{1,5}H)?(\d{1,6}M)?(\d{1,7}S)?)?$/;
const CODE = /^[A-Za-z0-9_-]{1,32}$/;

/** Checks the policy form; returns the Chinese message of each field in error. */
function policyErrors(d: {
  quorum: string;
  orderTimeout: string;
  hoursRuleCode: string;
  threshold: string;
  minApprovals: string;
}): Record<string, string> {
  const e: Record<string, string> = {};
  if (!/^\d+$/.test(d.quorum) || Number(d.quorum) < 1 || Number(d.quorum) > 50)
    e.quorum = '请填 1 到 50 之间的整数。';
  const t = d.orderTimeout.trim().toUpperCase();
  if (!ISO_DURATION.test(t) || !(t.match(/\d+/g) ?? []).some((n) => Number(n) > 0))
    e.orderTimeout = '请填大于零的时长，如 PT48H（48小时）、P3D（3天）。';
  if (!CODE.test(d.hoursRuleCode.trim()))
    e.hoursRuleCode = '请填积分细则的代码：1–32 位字母、数字、- 或 _，如 volunteer-hour。';
  const th = Number(d.threshold);
  if (!d.threshold.trim() || !Number.isFinite(th) || th < 30 || th > 100)
    e.threshold = '请填 30 到 100 之间的数（百分比）。';
  if (!/^\d+$/.test(d.minApprovals) || Number(d.minApprovals) < 1 || Number(d.minApprovals) > 1000)
    e.minApprovals = '请填 1 到 1000 之间的整数。';
  return e;
}

const POLICY_LABELS: Record<string, string> = {
  quorum: '通过所需票数',
  noticePeriod: '公示期',
  redemptionDailyLimit: '每日兑换上限',
  orderTimeout: '接单时限',
  ratedHoursNeedNoVote: '评单后时长免评议',
  hoursRuleCode: '时长折算积分细则代码',
  concentrationThreshold: '人情分预警比例',
  concentrationMinApprovals: '人情分起算票数',
  orderTimeoutField: '接单时限',
  threshold: '人情分预警比例',
  minApprovals: '人情分起算票数',
};

function VillagePolicy({ v, onSaved }: { v: Village; onSaved: () => void }) {
  const [d, set, clear, bind] = useDraft(`admin-village-${v.id}`, {
    quorum: String(v.policy.quorum),
    noticePeriod: v.policy.noticePeriod,
    limit: v.policy.redemptionDailyLimit ? String(v.policy.redemptionDailyLimit) : '',
    orderTimeout: v.policy.orderTimeout ?? 'PT48H',
    noVote: v.policy.ratedHoursNeedNoVote ?? false,
    hoursRuleCode: v.policy.hoursRuleCode ?? 'volunteer-hour',
    threshold: String(Math.round((v.policy.concentrationThreshold ?? 0.6) * 100)),
    minApprovals: String(v.policy.concentrationMinApprovals ?? 5),
  });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [result, setResult] = useState<{ ok?: string; error?: string }>({});
  async function save(e: Event) {
    e.preventDefault();
    const errs = policyErrors(d);
    setErrors(errs);
    if (Object.keys(errs).length) {
      setResult({
        error: `请改正标红的项：${Object.keys(errs)
          .map((k) => POLICY_LABELS[k])
          .join('、')}。`,
      });
      return;
    }
    try {
      await api(`/v1/villages/${v.id}`, {
        method: 'PATCH',
        body: {
          policy: {
            quorum: Number(d.quorum),
            noticePeriod: d.noticePeriod.trim(),
            redemptionDailyLimit: d.limit.trim() ? Number(d.limit) : null,
            orderTimeout: d.orderTimeout.trim().toUpperCase(),
            ratedHoursNeedNoVote: d.noVote,
            hoursRuleCode: d.hoursRuleCode.trim(),
            concentrationThreshold: Number(d.threshold) / 100,
            concentrationMinApprovals: Number(d.minApprovals),
          },
        },
      });
      clear();
      setResult({ ok: '已保存。' });
      onSaved();
    } catch (err) {
      setResult({ error: describeError(err, POLICY_LABELS) });
    }
  }
  const noVoteId = `novote-${v.id}`;
  return (
    <form class="item" onSubmit={save} noValidate aria-label={`${v.name}的评议规则`}>
      <div class="item-head">
        <strong>
          {v.name}（{v.code}，{v.township}）
        </strong>
        <span class="meta">
          {v.policy.quorum} 票通过 · 公示 {durationZh(v.policy.noticePeriod)}
          {v.policy.redemptionDailyLimit
            ? ` · 每日兑换上限 ${v.policy.redemptionDailyLimit} 分`
            : ''}
        </span>
      </div>
      <div class="row">
        <Field
          label="通过所需票数"
          name="quorum"
          inputMode="numeric"
          {...bind('quorum')}
          error={errors.quorum}
        />
        <Field
          label="公示期"
          name="noticePeriod"
          {...bind('noticePeriod')}
          hint="如 P7D（7天）、PT10M（10分钟）"
        />
        <Field
          label="每日兑换上限（分，可空）"
          name="limit"
          inputMode="numeric"
          {...bind('limit')}
        />
      </div>
      <fieldset>
        <legend>志愿服务点单和人情分预警</legend>
        <div class="row">
          <Field
            label="接单时限"
            name="orderTimeout"
            {...bind('orderTimeout')}
            error={errors.orderTimeout}
            hint={
              ISO_DURATION.test(d.orderTimeout.trim().toUpperCase())
                ? `超时未接单即上报乡镇实践所（${durationZh(d.orderTimeout.trim().toUpperCase())}）`
                : '超时未接单即上报乡镇实践所，如 PT48H（48小时）'
            }
          />
          <Field
            label="时长折算积分细则代码"
            name="hoursRuleCode"
            {...bind('hoursRuleCode')}
            error={errors.hoursRuleCode}
            hint="服务时长按这条细则折算成积分"
          />
          <Field
            label="人情分预警比例（%）"
            name="concentrationThreshold"
            inputMode="decimal"
            {...bind('threshold')}
            error={errors.threshold}
            hint="评议员的赞成票落在同一批农户上超过这个比例即预警（30–100）"
          />
          <Field
            label="人情分起算票数"
            name="concentrationMinApprovals"
            inputMode="numeric"
            {...bind('minApprovals')}
            error={errors.minApprovals}
            hint="评议员赞成票达到这个数才计算预警"
          />
        </div>
        <div class="check-row">
          <input
            type="checkbox"
            id={noVoteId}
            name="ratedHoursNeedNoVote"
            checked={d.noVote}
            onChange={() => set({ noVote: !d.noVote })}
          />
          <label for={noVoteId}>评单后的服务时长不经评议会表决，直接公示</label>
        </div>
      </fieldset>
      <Outcome of={result} />
      <button type="submit">保存 {v.name}</button>
    </form>
  );
}

function NewVillage({ onSaved }: { onSaved: () => void }) {
  const [d, set, clear, bind] = useDraft('admin-new-village', {
    name: '',
    code: '',
    township: '',
    county: '',
  });
  const [result, setResult] = useState<{ ok?: string; error?: string }>({});
  async function save(e: Event) {
    e.preventDefault();
    const missing = [
      ['name', '村名'],
      ['code', '村代码'],
      ['township', '乡镇'],
      ['county', '县'],
    ].filter(([k]) => !String(d[k as keyof typeof d]).trim());
    if (missing.length) {
      setResult({ error: `请填写：${missing.map(([, l]) => l).join('、')}。` });
      return;
    }
    try {
      await post('/v1/villages', {
        name: d.name.trim(),
        code: d.code.trim(),
        township: d.township.trim(),
        county: d.county.trim(),
      });
      clear();
      setResult({ ok: '已新建。' });
      onSaved();
    } catch (err) {
      setResult({
        error: describeError(err, { name: '村名', code: '村代码', township: '乡镇', county: '县' }),
      });
    }
  }
  return (
    <form onSubmit={save} noValidate class="subform">
      <h3>新建村</h3>
      <div class="row">
        <Field label="村名" name="name" value={d.name} onValue={(x) => set({ name: x })} required />
        <Field label="村代码" name="code" {...bind('code')} required hint="字母、数字、- 或 _" />
        <Field label="乡镇" name="township" {...bind('township')} required />
        <Field label="县" name="county" {...bind('county')} required />
      </div>
      <Outcome of={result} />
      <button type="submit">新建村</button>
    </form>
  );
}

function Users() {
  const villages = useVillages();
  const [role, setRole] = useState('');
  const [typed, setTyped] = useState('');
  const [prefix, setPrefix] = useState('');
  const [after, setAfter] = useState<string[]>([]);
  const [action, setAction] = useState<Action | null>(null);
  const users = useLoad(
    () =>
      get<{ items: User[]; next: string | null }>('/v1/users', {
        role: role || undefined,
        prefix: prefix || undefined,
        after: after[after.length - 1],
        limit: 50,
      }),
    [role, prefix, after.join()],
  );
  const prefixError =
    typed.trim() && !/^[A-Za-z0-9_.@-]{1,64}$/.test(typed.trim())
      ? '用户名只含字母、数字和 _ . @ -，请改正后再找'
      : undefined;
  const vnames = useMemo(
    () => new Map((villages.data ?? []).map((v) => [v.id, v.name])),
    [villages.data],
  );
  return (
    <>
      <Section title="用户">
        <Select
          label="角色"
          name="role"
          value={role}
          onValue={(r) => {
            setRole(r);
            setAfter([]);
          }}
          options={[
            { value: '', label: '全部' },
            ...Object.entries(ROLE_NAMES)
              .filter(([k]) =>
                [
                  'admin',
                  'clerk',
                  'council',
                  'supervisor',
                  'township',
                  'officer',
                  'household',
                ].includes(k),
              )
              .map(([value, label]) => ({ value, label })),
          ]}
        />
        <Field
          label="用户名开头"
          name="prefix"
          type="search"
          value={typed}
          onValue={(x) => {
            setTyped(x);
            if (!x.trim()) {
              setPrefix('');
              setAfter([]);
            }
          }}
          onEnter={() => {
            if (prefixError) return;
            setPrefix(typed.trim());
            setAfter([]);
          }}
          error={prefixError}
          hint="输入用户名的开头后按回车，只列出这些用户"
        />
        {action ? (
          <AccountAction
            key={`${action.kind}-${action.user.id}`}
            action={action}
            onChanged={users.reload}
            onClose={() => setAction(null)}
          />
        ) : null}
        <LoadStatus of={users} />
        {users.data ? (
          <div class="scroll-x" tabIndex={0} role="region" aria-label="用户列表">
            <table>
              <caption class="sr-only">用户列表（按用户名排序，每页 50 个）</caption>
              <thead>
                <tr>
                  <th scope="col">用户名</th>
                  <th scope="col">角色</th>
                  <th scope="col">范围</th>
                  <th scope="col">状态</th>
                  <th scope="col">操作</th>
                </tr>
              </thead>
              <tbody>
                {users.data.items.map((u) => (
                  <tr key={u.id}>
                    <td>{u.username}</td>
                    <td>{ROLE_NAMES[u.role] ?? u.role}</td>
                    <td>
                      {u.villageId
                        ? (vnames.get(u.villageId) ?? '')
                        : u.cooperativeId
                          ? '信用社'
                          : u.storeId
                            ? '超市'
                            : '全县'}
                    </td>
                    <td>
                      {u.disabled ? (
                        <Badge tone="bad">已停用</Badge>
                      ) : (
                        <Badge tone="good">正常</Badge>
                      )}
                    </td>
                    <td>
                      {u.role === 'terminal' ? null : (
                        <div class="row-actions">
                          <button
                            type="button"
                            class={u.disabled ? '' : 'danger'}
                            aria-label={`${u.disabled ? '启用' : '停用'}：${u.username}`}
                            onClick={() =>
                              setAction({ kind: u.disabled ? 'enable' : 'disable', user: u })
                            }
                          >
                            {u.disabled ? '启用' : '停用'}
                          </button>
                          <button
                            type="button"
                            aria-label={`重设密码：${u.username}`}
                            onClick={() => setAction({ kind: 'reset', user: u })}
                          >
                            重设密码
                          </button>
                        </div>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
        <div class="buttons">
          {after.length ? (
            <button type="button" onClick={() => setAfter(after.slice(0, -1))}>
              上一页
            </button>
          ) : null}
          {users.data?.next ? (
            <button type="button" onClick={() => setAfter([...after, users.data!.next!])}>
              下一页
            </button>
          ) : null}
        </div>
      </Section>
      <NewUser villages={villages.data ?? []} onSaved={users.reload} />
    </>
  );
}

type Action = { kind: 'disable' | 'enable' | 'reset'; user: User };

/**
 * The confirmation of disabling, enabling or resetting the password of one account (PATCH
 * /v1/users/:id, PUT /v1/users/:id/password), saying in words what will happen to that person.
 */
function AccountAction({
  action,
  onChanged,
  onClose,
}: {
  action: Action;
  onChanged: () => void;
  onClose: () => void;
}) {
  const { kind, user } = action;
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [errors, setErrors] = useState<{ password?: string; confirm?: string }>({});
  const [result, setResult] = useState<{ ok?: string; error?: string }>({});
  const [busy, setBusy] = useState(false);
  const form = useRef<HTMLFormElement | null>(null);
  // The cursor moves into the confirmation: its first field, or the button that confirms.
  useEffect(() => {
    form.current?.querySelector<HTMLElement>('input, button[type=submit]')?.focus();
  }, []);
  const done = useRef<HTMLButtonElement | null>(null);
  // Once done, the cursor is on 完成 (the confirming button and the fields are gone).
  useEffect(() => {
    if (result.ok) done.current?.focus();
  }, [result.ok]);
  const who = `${ROLE_NAMES[user.role] ?? user.role}“${user.username}”`;
  const title =
    kind === 'disable' ? `停用${who}` : kind === 'enable' ? `启用${who}` : `重设${who}的密码`;
  const explanation =
    kind === 'disable'
      ? `停用后，${user.username} 在所有设备上立即退出登录，也不能再登录，直到县中心重新启用。账号和积分记录都保留。确定停用吗？`
      : kind === 'enable'
        ? `启用后，${user.username} 可以用原来的密码重新登录。确定启用吗？`
        : `重设后，${user.username} 在所有设备上立即退出登录，只能用新密码登录。请当面把新密码交给本人，并请他登录后自己修改。`;

  async function go(e: Event) {
    e.preventDefault();
    if (result.ok) return;
    if (kind === 'reset') {
      const errs: { password?: string; confirm?: string } = {};
      if (!password) errs.password = '请填写“新密码”。';
      else if ([...password].length < 10)
        errs.password = `“新密码”至少 10 个字符，现在只有 ${[...password].length} 个。`;
      if (!confirm) errs.confirm = '请再输入一遍新密码。';
      else if (password && confirm !== password)
        errs.confirm = '两次输入的新密码不一样，请重新输入“确认新密码”。';
      setErrors(errs);
      if (Object.keys(errs).length) return;
    }
    setBusy(true);
    try {
      if (kind === 'reset')
        await api(`/v1/users/${user.id}/password`, {
          method: 'PUT',
          body: { newPassword: password },
        });
      else
        await api(`/v1/users/${user.id}`, {
          method: 'PATCH',
          body: { disabled: kind === 'disable' },
        });
      setResult({
        ok:
          kind === 'disable'
            ? `已停用 ${user.username}：此人已被退出登录，不能再登录。`
            : kind === 'enable'
              ? `已启用 ${user.username}：此人可以重新登录了。`
              : `已重设 ${user.username} 的密码：此人已被退出登录，请当面告知新密码。`,
      });
      onChanged();
    } catch (err) {
      setResult({
        error:
          err instanceof ApiError && err.code === 'conflict' && kind === 'disable'
            ? '不能停用自己正在使用的账号。'
            : describeError(err, { newPassword: '新密码' }),
      });
    }
    setBusy(false);
  }

  return (
    <form
      class="card confirm"
      ref={form}
      onSubmit={go}
      noValidate
      aria-labelledby="account-action-h"
    >
      <h3 id="account-action-h">{title}</h3>
      <p>{explanation}</p>
      {kind === 'reset' && !result.ok ? (
        <>
          <Field
            label="新密码"
            name="newPassword"
            type="password"
            value={password}
            onValue={setPassword}
            error={errors.password}
            hint="至少 10 个字符。"
            autoComplete="new-password"
            required
          />
          <Field
            label="确认新密码"
            name="confirmPassword"
            type="password"
            value={confirm}
            onValue={setConfirm}
            error={errors.confirm}
            autoComplete="new-password"
            required
          />
        </>
      ) : null}
      <Outcome of={result} />
      <div class="buttons">
        {result.ok ? (
          <button type="button" ref={done} onClick={onClose}>
            完成
          </button>
        ) : (
          <>
            <button type="submit" class={kind === 'enable' ? 'primary' : 'danger'} disabled={busy}>
              {kind === 'disable' ? '确定停用' : kind === 'enable' ? '确定启用' : '确定重设密码'}
            </button>
            <button type="button" onClick={onClose}>
              取消
            </button>
          </>
        )}
      </div>
    </form>
  );
}

function NewUser({ villages, onSaved }: { villages: Village[]; onSaved: () => void }) {
  const [d, , clear, bind] = useDraft('admin-new-user', {
    username: '',
    password: '',
    role: 'clerk',
    villageId: '',
    townshipId: '',
    cooperativeId: '',
    storeId: '',
  });
  const [result, setResult] = useState<{ ok?: string; error?: string }>({});
  const townships = useTownships();
  const coops = useLoad(
    () => get<{ items: { id: string; name: string }[] }>('/v1/cooperatives').then((r) => r.items),
    [],
  );
  const labels = {
    username: '用户名',
    password: '初始密码',
    role: '角色',
    villageId: '村',
    townshipId: '乡镇实践所',
    cooperativeId: '信用社',
    storeId: '超市',
    householdId: '农户',
  };
  async function save(e: Event) {
    e.preventDefault();
    const body: Record<string, string> = {
      username: d.username.trim(),
      password: d.password,
      role: d.role,
    };
    if (d.role === 'clerk' || d.role === 'council' || d.role === 'supervisor')
      body.villageId = d.villageId;
    if (d.role === 'township') body.townshipId = d.townshipId;
    if (d.role === 'officer') body.cooperativeId = d.cooperativeId;
    const missing = Object.entries(body).filter(([, v]) => !v);
    if (missing.length) {
      setResult({
        error: `请填写：${missing.map(([k]) => labels[k as keyof typeof labels]).join('、')}。`,
      });
      return;
    }
    try {
      const u = await post<User>('/v1/users', body);
      clear();
      setResult({ ok: `已新建用户 ${u.username}。请把初始密码当面交给本人。` });
      onSaved();
    } catch (err) {
      setResult({
        error:
          (err as { code?: string }).code === 'conflict'
            ? '这个用户名已被使用，请换一个。'
            : describeError(err, labels),
      });
    }
  }
  return (
    <Section title="新建用户">
      <form onSubmit={save} noValidate>
        <Select
          label="角色"
          name="newRole"
          {...bind('role')}
          options={['clerk', 'council', 'supervisor', 'township', 'officer', 'admin'].map((r) => ({
            value: r,
            label: ROLE_NAMES[r]!,
          }))}
          required
          hint="农户账号由村文书在“登记农户”后建立；收银台在“公益超市”中添加终端。"
        />
        {d.role === 'township' ? (
          <Select
            label="乡镇实践所"
            name="townshipId"
            {...bind('townshipId')}
            placeholder="请选择"
            options={(townships.data ?? []).map((t) => ({
              value: t.id,
              label: `${t.name}（${t.county}）`,
            }))}
            required
          />
        ) : null}
        {d.role === 'clerk' || d.role === 'council' || d.role === 'supervisor' ? (
          <Select
            label="村"
            name="villageId"
            {...bind('villageId')}
            placeholder="请选择"
            options={villages.map((v) => ({ value: v.id, label: v.name }))}
            required
          />
        ) : null}
        {d.role === 'officer' ? (
          <Select
            label="信用社"
            name="cooperativeId"
            {...bind('cooperativeId')}
            placeholder="请选择"
            options={(coops.data ?? []).map((c) => ({ value: c.id, label: c.name }))}
            required
          />
        ) : null}
        <Field
          label="用户名"
          name="username"
          {...bind('username')}
          required
          hint="3–64 位字母、数字或 _ . @ -"
        />
        <Field
          label="初始密码"
          name="password"
          type="password"
          {...bind('password')}
          required
          hint="至少 10 个字符"
          autoComplete="new-password"
        />
        <Outcome of={result} />
        <button type="submit" class="primary">
          新建用户
        </button>
      </form>
    </Section>
  );
}

function Rules() {
  const rules = useLoad(
    () =>
      get<{
        items: {
          code: string;
          title: string;
          kind: 'award' | 'deduction';
          version: number;
          points?: number;
          pointsPerUnit?: number;
          unit?: string;
          capPerMonth?: number;
          capPerYear?: number;
          inForce: boolean;
        }[];
      }>('/v1/rules').then((r) => r.items),
    [],
  );
  const [open, setOpen] = useState('');
  const versions = useLoad(
    () =>
      open
        ? get<{ versions: RuleVersion[] }>(`/v1/rules/${open}`).then((r) => r.versions)
        : Promise.resolve([]),
    [open],
  );
  return (
    <>
      <Section title="积分细则（现行版本）">
        {rules.loading ? <Loading /> : null}
        {rules.data?.map((r) => (
          <article class="item" key={r.code}>
            <div class="item-head">
              <strong>{ruleLabel(r)}</strong>
              <span class="meta">
                {r.code} · 第 {r.version} 版 {r.inForce ? '' : '· 已停用'}
              </span>
            </div>
            <button
              type="button"
              class="link-button"
              aria-expanded={open === r.code}
              onClick={() => setOpen(open === r.code ? '' : r.code)}
            >
              {open === r.code ? '收起各版本' : '查看各版本'}
            </button>
            {open === r.code && versions.data ? (
              <ol class="history">
                {versions.data.map((v) => (
                  <li key={v.version}>
                    第 {v.version} 版，{v.version === 1 ? '最初版本' : `自 ${v.effectiveFrom} 起`}：
                    {ruleLabel(v)}
                    {v.retired ? '（停用）' : ''}
                  </li>
                ))}
              </ol>
            ) : null}
          </article>
        ))}
      </Section>
      <NewRuleVersion onSaved={rules.reload} />
    </>
  );
}

function NewRuleVersion({ onSaved }: { onSaved: () => void }) {
  const [d, , clear, bind] = useDraft('admin-rule', {
    code: '',
    title: '',
    kind: 'award',
    mode: 'points',
    points: '',
    pointsPerUnit: '',
    unit: '小时',
    capPerMonth: '',
    effectiveFrom: '',
  });
  const [result, setResult] = useState<{ ok?: string; error?: string }>({});
  const labels = {
    code: '细则代码',
    title: '名称',
    points: '分值',
    pointsPerUnit: '每单位分值',
    unit: '单位',
    capPerMonth: '每月上限',
    effectiveFrom: '生效日期',
  };
  async function save(e: Event) {
    e.preventDefault();
    const body: Record<string, unknown> = {
      code: d.code.trim(),
      title: d.title.trim(),
      kind: d.kind,
    };
    if (d.mode === 'points') body.points = Number(d.points);
    else Object.assign(body, { pointsPerUnit: Number(d.pointsPerUnit), unit: d.unit.trim() });
    if (d.capPerMonth.trim()) body.capPerMonth = Number(d.capPerMonth);
    if (d.effectiveFrom) body.effectiveFrom = d.effectiveFrom;
    if (
      !body.code ||
      !body.title ||
      (d.mode === 'points' ? !(Number(d.points) > 0) : !(Number(d.pointsPerUnit) > 0))
    ) {
      setResult({ error: '请填写细则代码、名称和分值（正整数）。' });
      return;
    }
    try {
      const v = await post<{ code: string; version: number }>('/v1/rules', body);
      clear();
      setResult({ ok: `已保存：${v.code} 第 ${v.version} 版。已有的申报仍按当时的版本计分。` });
      onSaved();
    } catch (err) {
      setResult({ error: describeError(err, labels) });
    }
  }
  return (
    <Section title="新增细则或新版本">
      <form onSubmit={save} noValidate>
        <p class="lead">填已有的代码即为该细则的新版本，从生效日期起用于新发生的事项。</p>
        <div class="row">
          <Field label="细则代码" name="code" {...bind('code')} required hint="如 volunteer-hour" />
          <Field label="名称" name="title" {...bind('title')} required />
          <Select
            label="类型"
            name="kind"
            {...bind('kind')}
            options={[
              { value: 'award', label: '加分' },
              { value: 'deduction', label: '扣分' },
            ]}
          />
          <Select
            label="计分方式"
            name="mode"
            {...bind('mode')}
            options={[
              { value: 'points', label: '固定分值' },
              { value: 'rate', label: '按数量（如每小时）' },
            ]}
          />
          {d.mode === 'points' ? (
            <Field label="分值" name="points" inputMode="numeric" {...bind('points')} required />
          ) : (
            <>
              <Field
                label="每单位分值"
                name="pointsPerUnit"
                inputMode="numeric"
                {...bind('pointsPerUnit')}
                required
              />
              <Field label="单位" name="unit" {...bind('unit')} required />
            </>
          )}
          <Field
            label="每月上限（可空）"
            name="capPerMonth"
            inputMode="numeric"
            {...bind('capPerMonth')}
          />
          <Field
            label="生效日期（可空，默认今天）"
            name="effectiveFrom"
            type="date"
            {...bind('effectiveFrom')}
          />
        </div>
        <Outcome of={result} />
        <button type="submit" class="primary">
          保存
        </button>
      </form>
    </Section>
  );
}

function Stores() {
  const stores = useLoad(
    () => get<{ items: Store[] }>('/v1/stores', { limit: 500 }).then((r) => r.items),
    [],
  );
  const villages = useVillages();
  const vnames = useMemo(
    () => new Map((villages.data ?? []).map((v) => [v.id, v.name])),
    [villages.data],
  );
  const [chosen, setChosen] = useState('');
  const store = stores.data?.find((x) => x.id === (chosen || stores.data?.[0]?.id));
  return (
    <Section title="公益超市">
      {stores.loading ? <Loading /> : null}
      {stores.data && !stores.data.length ? <Empty>还没有超市。</Empty> : null}
      {stores.data && stores.data.length ? (
        <Select
          label="超市"
          name="store"
          value={store?.id ?? ''}
          onValue={setChosen}
          options={stores.data.map((x) => ({
            value: x.id,
            label: `${x.name}（${x.villageIds.map((v) => vnames.get(v) ?? '村').join('、')}）`,
          }))}
        />
      ) : null}
      {store ? <StoreCard key={store.id} s={store} vnames={vnames} /> : null}
    </Section>
  );
}

/** Adds stock (a movement, never an edit); one key per delivery, so a retried click counts once. */
function Restock({
  storeId,
  items,
  onDone,
}: {
  storeId: string;
  items: { sku: string; name: string }[];
  onDone: () => void;
}) {
  const [sku, setSku] = useState('');
  const [qty, setQty] = useState('');
  const [key, setKey] = useState(
    () => `restock-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`,
  );
  const [result, setResult] = useState<{ ok?: string; error?: string }>({});
  async function send(e: Event) {
    e.preventDefault();
    if (!sku || !/^\d+$/.test(qty) || Number(qty) < 1) {
      setResult({ error: '请选择商品，并填写补货数量（1 以上的整数）。' });
      return;
    }
    try {
      await post(
        `/v1/stores/${storeId}/items/${encodeURIComponent(sku)}/restock`,
        { qty: Number(qty), reason: '县中心补货' },
        { 'Idempotency-Key': key },
      );
      setResult({ ok: `已补货 ${qty} 件。` });
      setQty('');
      setKey(`restock-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`);
      onDone();
    } catch (err) {
      setResult({ error: describeError(err, { qty: '补货数量', sku: '商品' }) });
    }
  }
  return (
    <form onSubmit={send} noValidate class="subform">
      <h3>补货</h3>
      <div class="row">
        <Select
          label="商品"
          name="restockSku"
          value={sku}
          onValue={setSku}
          placeholder="请选择"
          options={items.map((i) => ({ value: i.sku, label: `${i.name}（${i.sku}）` }))}
        />
        <Field
          label="补货数量"
          name="restockQty"
          inputMode="numeric"
          value={qty}
          onValue={setQty}
        />
        <button type="submit">补货</button>
      </div>
      <Outcome of={result} />
    </form>
  );
}

function StoreCard({ s, vnames }: { s: Store; vnames: Map<string, string> }) {
  const items = useLoad(
    () =>
      get<{ items: { sku: string; name: string; points: number; stock: number }[] }>(
        `/v1/stores/${s.id}/items`,
      ).then((r) => r.items),
    [s.id],
  );
  const terminals = useLoad(
    () =>
      get<{
        items: { id: string; clientId: string; createdAt: string; revokedAt: string | null }[];
      }>(`/v1/stores/${s.id}/terminals`).then((r) => r.items),
    [s.id],
  );
  const [d, , clear, bind] = useDraft(`admin-item-${s.id}`, {
    sku: '',
    name: '',
    points: '',
    stock: '',
  });
  const [secret, setSecret] = useState<{ clientId: string; clientSecret: string } | null>(null);
  const [result, setResult] = useState<{ ok?: string; error?: string }>({});
  async function addItem(e: Event) {
    e.preventDefault();
    if (
      !d.sku.trim() ||
      !d.name.trim() ||
      !(Number(d.points) > 0) ||
      !(Number(d.stock) >= 0) ||
      d.stock === ''
    ) {
      setResult({ error: '请填写商品编码、名称、积分（正整数）和库存（0 或以上）。' });
      return;
    }
    try {
      await post(`/v1/stores/${s.id}/items`, {
        sku: d.sku.trim(),
        name: d.name.trim(),
        points: Number(d.points),
        stock: Number(d.stock),
      });
      clear();
      setResult({ ok: '已添加商品。' });
      items.reload();
    } catch (err) {
      setResult({
        error: describeError(err, { sku: '商品编码', name: '名称', points: '积分', stock: '库存' }),
      });
    }
  }
  async function addTerminal() {
    try {
      setSecret(
        await post<{ clientId: string; clientSecret: string }>(`/v1/stores/${s.id}/terminals`),
      );
      terminals.reload();
    } catch (err) {
      setResult({ error: describeError(err) });
    }
  }
  return (
    <article class="item">
      <div class="item-head">
        <strong>{s.name}</strong>
        <span class="meta">服务：{s.villageIds.map((v) => vnames.get(v) ?? '村').join('、')}</span>
      </div>
      <table>
        <caption>商品和库存</caption>
        <thead>
          <tr>
            <th scope="col">编码</th>
            <th scope="col">名称</th>
            <th scope="col">积分</th>
            <th scope="col">库存</th>
          </tr>
        </thead>
        <tbody>
          {(items.data ?? []).map((i) => (
            <tr key={i.sku}>
              <td>{i.sku}</td>
              <td>{i.name}</td>
              <td>{i.points}</td>
              <td>{i.stock}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <Restock storeId={s.id} items={items.data ?? []} onDone={items.reload} />
      <form onSubmit={addItem} noValidate class="subform">
        <h3>添加商品</h3>
        <div class="row">
          <Field label="商品编码" name="sku" {...bind('sku')} required />
          <Field label="名称" name="itemName" {...bind('name')} required />
          <Field label="积分" name="points" inputMode="numeric" {...bind('points')} required />
          <Field label="库存" name="stock" inputMode="numeric" {...bind('stock')} required />
        </div>
        <button type="submit">添加商品</button>
      </form>
      <h3>收银台终端</h3>
      <ul class="entries">
        {(terminals.data ?? []).map((t) => (
          <li key={t.id}>
            {t.clientId} · 建于 {beijing(t.createdAt, false)}{' '}
            {t.revokedAt ? <Badge tone="bad">已吊销</Badge> : <Badge tone="good">可用</Badge>}
          </li>
        ))}
      </ul>
      <button type="button" onClick={addTerminal}>
        添加收银台终端
      </button>
      {secret ? (
        <Alert kind="warn">
          新终端：编号 <code>{secret.clientId}</code>，密钥 <code>{secret.clientSecret}</code>
          。密钥只显示这一次，请现在到收银台电脑上登录并保存。
        </Alert>
      ) : null}
      <Outcome of={result} />
    </article>
  );
}

function Cooperatives() {
  const coops = useLoad(
    () =>
      get<{ items: { id: string; name: string; villageIds: string[] }[] }>('/v1/cooperatives').then(
        (r) => r.items,
      ),
    [],
  );
  const villages = useVillages();
  const vnames = useMemo(
    () => new Map((villages.data ?? []).map((v) => [v.id, v.name])),
    [villages.data],
  );
  const [d, set, clear, bind] = useDraft('admin-coop', {
    name: '',
    chosen: {} as Record<string, boolean>,
  });
  const [result, setResult] = useState<{ ok?: string; error?: string }>({});
  async function save(e: Event) {
    e.preventDefault();
    const villageIds = Object.keys(d.chosen).filter((k) => d.chosen[k]);
    if (!d.name.trim() || !villageIds.length) {
      setResult({ error: '请填写信用社名称，并勾选它服务的村。' });
      return;
    }
    try {
      await post('/v1/cooperatives', { name: d.name.trim(), villageIds });
      clear();
      setResult({ ok: '已新建信用社。' });
      coops.reload();
    } catch (err) {
      setResult({ error: describeError(err, { name: '名称', villageIds: '服务的村' }) });
    }
  }
  return (
    <>
      <Section title="信用社和服务范围">
        {coops.loading ? <Loading /> : null}
        {coops.data?.map((c) => (
          <article class="item" key={c.id}>
            <strong>{c.name}</strong>
            <p class="meta">
              服务范围：{c.villageIds.map((v) => vnames.get(v) ?? '村').join('、')}
            </p>
          </article>
        ))}
      </Section>
      <Section title="新建信用社">
        <form onSubmit={save} noValidate>
          <Field label="名称" name="coopName" {...bind('name')} required />
          <fieldset class="checklist">
            <legend>服务的村</legend>
            {(villages.data ?? []).map((v) => (
              <div class="check-row" key={v.id}>
                <input
                  type="checkbox"
                  id={`c-${v.id}`}
                  checked={Boolean(d.chosen[v.id])}
                  onChange={() => set({ chosen: { ...d.chosen, [v.id]: !d.chosen[v.id] } })}
                />
                <label for={`c-${v.id}`}>{v.name}</label>
              </div>
            ))}
          </fieldset>
          <Outcome of={result} />
          <button type="submit" class="primary">
            新建信用社
          </button>
        </form>
      </Section>
    </>
  );
}

function Jobs() {
  const jobs = useLoad(
    () =>
      get<{
        items: {
          queue: string;
          id: string;
          name: string;
          failedReason: string;
          attemptsMade: number;
          failedAt: string | null;
        }[];
      }>('/v1/admin/failed-jobs').then((r) => r.items),
    [],
  );
  const [result, setResult] = useState<{ ok?: string; error?: string }>({});
  async function retry(queue: string, id: string) {
    try {
      await post(
        `/v1/admin/failed-jobs/${encodeURIComponent(queue)}/${encodeURIComponent(id)}/retry`,
      );
      setResult({ ok: '已重新排队。' });
      jobs.reload();
    } catch (err) {
      setResult({ error: describeError(err) });
    }
  }
  return (
    <Section title="失败的后台任务" actions={<RefreshButton onClick={jobs.reload} />}>
      <p class="lead">
        后台任务（公示期满入账、通知、信用导出等）重试多次仍失败的会列在这里。排除原因后可以重新排队。
      </p>
      <Outcome of={result} />
      {jobs.loading ? <Loading /> : null}
      {jobs.data && !jobs.data.length ? <Empty>没有失败的任务。</Empty> : null}
      {jobs.data?.map((j) => (
        <article class="item" key={`${j.queue}-${j.id}`}>
          <strong>
            {j.queue} · {j.id}
          </strong>
          <p class="meta">
            尝试 {j.attemptsMade} 次 · 失败于 {beijing(j.failedAt)} · 原因：{j.failedReason}
          </p>
          <button type="button" onClick={() => retry(j.queue, j.id)}>
            重新排队
          </button>
        </article>
      ))}
    </Section>
  );
}

/** Appeals of posted deductions, decided at township level (in this deployment: the county office). */
function Appeals() {
  const villages = useVillages();
  const names = useMemo(
    () => new Map((villages.data ?? []).map((v) => [v.id, v.name])),
    [villages.data],
  );
  return (
    <AppealsSection
      title="待复核的扣分申诉"
      draftPrefix="admin-appeal"
      villageName={(id) => names.get(id)}
    />
  );
}

/** Township stations (乡镇实践所) with their villages, and a login for a station. */
function Townships() {
  const townships = useTownships();
  const villages = useVillages();
  const vnames = useMemo(
    () => new Map((villages.data ?? []).map((v) => [v.id, v.name])),
    [villages.data],
  );
  return (
    <Section title="乡镇实践所和所辖村">
      <p class="meta">
        乡镇实践所代管所辖各村：复核申诉、接收超时未接的点单、处理监督员的标记。新建村时填写的乡镇即归入同名的实践所。
        在“<Link href="/admin/users">用户</Link>”中可为实践所或村的监督员建立账号。
      </p>
      {townships.loading || villages.loading ? <Loading /> : null}
      {townships.error ? <Alert kind="error">{describeError(townships.error)}</Alert> : null}
      {townships.data && !townships.data.length ? <Empty>还没有乡镇实践所。</Empty> : null}
      {townships.data?.length ? (
        <div class="scroll-x" tabIndex={0} role="region" aria-label="乡镇实践所列表">
          <table>
            <caption class="sr-only">乡镇实践所和所辖村</caption>
            <thead>
              <tr>
                <th scope="col">乡镇实践所</th>
                <th scope="col">县</th>
                <th scope="col">所辖村</th>
              </tr>
            </thead>
            <tbody>
              {townships.data.map((t) => (
                <tr key={t.id}>
                  <td>{t.name}</td>
                  <td>{t.county}</td>
                  <td>
                    {t.villageIds.length
                      ? t.villageIds.map((id) => vnames.get(id) ?? '村').join('、')
                      : '（暂无）'}
                    <span class="meta">（{t.villageIds.length} 个村）</span>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </Section>
  );
}

interface MenuCategory {
  code: string;
  name: string;
  items: { code: string; name: string }[];
}

/** The county's service menu (点单菜单): every category and item, and adding or renaming one. */
function ServiceMenu() {
  const villages = useVillages();
  const counties = useMemo(() => {
    const m = new Map<string, string>();
    for (const v of villages.data ?? []) if (v.countyId) m.set(v.countyId, v.county ?? '县');
    return [...m].map(([value, label]) => ({ value, label }));
  }, [villages.data]);
  const [countyId, setCountyId] = useState('');
  const [removing, setRemoving] = useState<{ code: string; name: string } | null>(null);
  const [removal, setRemoval] = useState<{ ok?: string; error?: string }>({});
  const county = countyId || (counties.length === 1 ? counties[0]!.value : '');
  const menu = useLoad(
    () =>
      county
        ? get<{ countyId: string; categories: MenuCategory[] }>('/v1/service-menu', {
            countyId: county,
          })
        : Promise.resolve(null),
    [county],
  );
  return (
    <Section title="志愿服务菜单">
      {villages.loading ? <Loading /> : null}
      {counties.length > 1 ? (
        <Select
          label="县"
          name="countyId"
          value={county}
          onValue={setCountyId}
          placeholder="请选择"
          options={counties}
        />
      ) : null}
      <LoadStatus of={menu} />
      {menu.data && !menu.data.categories.length ? (
        <Empty>这个县还没有服务菜单。先添加一个类别和服务项目。</Empty>
      ) : null}
      {menu.data?.categories.map((c) => (
        <details class="item" key={c.code}>
          <summary>
            {c.name}（{c.code}）<span class="meta"> · {c.items.length} 项</span>
          </summary>
          <ul>
            {c.items.map((i) => (
              <li key={i.code}>
                {i.name} <span class="meta">（{i.code}）</span>{' '}
                <button
                  type="button"
                  class="link-button"
                  aria-label={`移除：${i.name}`}
                  onClick={() => {
                    setRemoval({});
                    setRemoving({ code: i.code, name: i.name });
                  }}
                >
                  移除
                </button>
              </li>
            ))}
          </ul>
        </details>
      ))}
      {removing && menu.data ? (
        <div class="card confirm" role="group" aria-label="确认移除服务项目">
          <p>
            从菜单中移除“{removing.name}”？群众以后不能再点这个项目；已下的订单不受影响，照常办理。
          </p>
          <div class="row-actions">
            <button
              type="button"
              class="danger"
              ref={(b) => b?.focus()}
              onClick={async () => {
                const gone = removing;
                const categories = menu.data!.categories.map((c) => ({
                  code: c.code,
                  name: c.name,
                  items: c.items.filter((i) => i.code !== gone.code),
                }));
                try {
                  await api('/v1/service-menu', {
                    method: 'PUT',
                    body: { countyId: county, categories },
                  });
                  setRemoving(null);
                  setRemoval({ ok: `已从菜单移除“${gone.name}”。` });
                  menu.reload();
                } catch (err) {
                  setRemoval({ error: describeError(err) });
                }
              }}
            >
              确定移除
            </button>
            <button type="button" onClick={() => setRemoving(null)}>
              取消
            </button>
          </div>
        </div>
      ) : null}
      <Outcome of={removal} />
      {menu.data ? (
        <MenuItemForm
          key={county}
          countyId={county}
          categories={menu.data.categories}
          onSaved={menu.reload}
        />
      ) : null}
    </Section>
  );
}

function MenuItemForm({
  countyId,
  categories,
  onSaved,
}: {
  countyId: string;
  categories: MenuCategory[];
  onSaved: () => void;
}) {
  const [d, , clear, bind] = useDraft(`admin-menu-${countyId}`, {
    category: '',
    newCode: '',
    newName: '',
    itemCode: '',
    itemName: '',
  });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [result, setResult] = useState<{ ok?: string; error?: string }>({});
  const isNew = d.category === '__new';
  const existing = categories.find((c) => c.code === d.category);
  const item = categories.flatMap((c) => c.items).find((i) => i.code === d.itemCode.trim());
  const labels: Record<string, string> = {
    category: '类别',
    newCode: '新类别代码',
    newName: '新类别名称',
    itemCode: '项目代码',
    itemName: '项目名称',
    code: '代码',
    name: '名称',
  };
  async function save(e: Event) {
    e.preventDefault();
    const errs: Record<string, string> = {};
    if (!d.category) errs.category = '请选择类别，或选“新建类别”。';
    if (isNew) {
      if (!CODE.test(d.newCode.trim())) errs.newCode = '请填 1–32 位字母、数字、- 或 _。';
      else if (categories.some((c) => c.code === d.newCode.trim()))
        errs.newCode = '这个类别代码已有，请在“类别”中直接选它。';
      if (!d.newName.trim()) errs.newName = '请填类别名称，如“助老助残”。';
    }
    if (!CODE.test(d.itemCode.trim()))
      errs.itemCode = '请填 1–32 位字母、数字、- 或 _，如 care-07。';
    else if (item && existing && !existing.items.some((i) => i.code === item.code))
      errs.itemCode = '这个项目代码已在别的类别中使用，请换一个。';
    else if (item && isNew) errs.itemCode = '这个项目代码已在别的类别中使用，请换一个。';
    if (!d.itemName.trim()) errs.itemName = '请填项目名称，如“上门理发”。';
    setErrors(errs);
    if (Object.keys(errs).length) {
      setResult({
        error: `请改正标红的项：${Object.keys(errs)
          .map((k) => labels[k])
          .join('、')}。`,
      });
      return;
    }
    const code = d.itemCode.trim();
    const name = d.itemName.trim();
    const next: MenuCategory[] = categories.map((c) => ({
      code: c.code,
      name: c.name,
      items:
        c.code === d.category
          ? c.items.some((i) => i.code === code)
            ? c.items.map((i) => (i.code === code ? { code, name } : i))
            : [...c.items, { code, name }]
          : c.items,
    }));
    if (isNew)
      next.push({ code: d.newCode.trim(), name: d.newName.trim(), items: [{ code, name }] });
    try {
      await api('/v1/service-menu', { method: 'PUT', body: { countyId, categories: next } });
      clear();
      setErrors({});
      setResult({ ok: `已保存服务项目“${name}”。` });
      onSaved();
    } catch (err) {
      setResult({ error: describeError(err, labels) });
    }
  }
  return (
    <form onSubmit={save} noValidate class="subform">
      <h3>添加或修改服务项目</h3>
      <p class="meta">
        填已有的项目代码即修改它的名称；填新的代码即添加。已下的订单保留原来的项目。
      </p>
      <div class="row">
        <Select
          label="类别"
          name="menuCategory"
          {...bind('category')}
          placeholder="请选择"
          options={[
            ...categories.map((c) => ({ value: c.code, label: c.name })),
            { value: '__new', label: '新建类别…' },
          ]}
          error={errors.category}
          required
        />
        {isNew ? (
          <>
            <Field
              label="新类别代码"
              name="newCategoryCode"
              {...bind('newCode')}
              error={errors.newCode}
              required
            />
            <Field
              label="新类别名称"
              name="newCategoryName"
              {...bind('newName')}
              error={errors.newName}
              required
            />
          </>
        ) : null}
        <Field
          label="项目代码"
          name="itemCode"
          {...bind('itemCode')}
          error={errors.itemCode}
          hint={item ? `现名“${item.name}”，保存即改名` : '字母、数字、- 或 _'}
          required
        />
        <Field
          label="项目名称"
          name="itemName"
          {...bind('itemName')}
          error={errors.itemName}
          required
        />
      </div>
      <Outcome of={result} />
      <button type="submit" class="primary">
        保存服务项目
      </button>
    </form>
  );
}
