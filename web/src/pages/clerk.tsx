/** 村文书: find and register households, file awards and deductions (one or many), follow them. */
import { useMemo, useState } from 'preact/hooks';
import { get, post } from '../api';
import { useDraft } from '../drafts';
import { beijing, pts, todayUtc } from '../format';
import { describeError, ENTRY_TYPES } from '../messages';
import { navigate } from '../router';
import { session } from '../session';
import type { Account, Entry } from '../shapes';
import {
  Alert,
  byPath,
  Empty,
  Field,
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
  type Household,
  householdLabel,
  householdNames,
  loadVillageHouseholds,
  type Rule,
  ruleLabel,
  type Submission,
  SubmissionSummary,
  useVillagePolicy,
} from './common';

const TABS = [
  { path: '/clerk', label: '查找农户' },
  { path: '/clerk/register', label: '登记农户' },
  { path: '/clerk/file', label: '申报积分' },
  { path: '/clerk/batch', label: '集体活动' },
  { path: '/clerk/status', label: '申报进度' },
];

const FILE_LABELS: Record<string, string> = {
  householdId: '农户',
  households: '参加的农户',
  ruleCode: '积分细则',
  quantity: '数量',
  occurredOn: '发生日期',
  'evidence.text': '证明材料',
  'evidence.attachments': '证明照片',
  text: '证明材料',
  cardNo: '积分卡号',
  head: '户主姓名',
  members: '家庭成员',
  data: '照片',
  contentType: '照片',
};

const villageId = () => session.get()?.me.villageId ?? '';

export function ClerkPage({ path }: { path: string }) {
  return (
    <>
      <h1>村文书工作台</h1>
      <Tabs tabs={TABS} current={path} />
      {byPath(
        path,
        {
          '/clerk/register': <Register />,
          '/clerk/file': <FileOne />,
          '/clerk/batch': <FileBatch />,
          '/clerk/status': <Status />,
        },
        <Find />,
      )}
    </>
  );
}

/** Search by card (a scanner types it and presses Enter) or by name. */
export function HouseholdSearch({
  onPick,
  label = '积分卡号或姓名',
  autoFocus,
}: {
  onPick: (h: Household) => void;
  label?: string;
  autoFocus?: boolean;
}) {
  const [q, setQ] = useState('');
  const [items, setItems] = useState<Household[] | null>(null);
  const [error, setError] = useState('');
  async function search() {
    if (!q.trim()) {
      setError('请输入积分卡号或姓名，再按“查找”。');
      return;
    }
    setError('');
    try {
      const r = await get<{ items: Household[] }>('/v1/households', {
        q: q.trim(),
        villageId: villageId(),
      });
      setItems(r.items);
      if (r.items.length === 1 && r.items[0]!.cardNo.toUpperCase() === q.trim().toUpperCase())
        onPick(r.items[0]!);
    } catch (err) {
      setError(describeError(err, { q: label }));
    }
  }
  return (
    <div class="search">
      <div class="row">
        <Field
          label={label}
          name="q"
          value={q}
          onValue={setQ}
          onEnter={search}
          error={error}
          autoFocus={autoFocus}
          hint="可以扫卡，也可以输入户主或家庭成员姓名的一部分。"
        />
        <button type="button" onClick={search}>
          查找
        </button>
      </div>
      {items && !items.length ? (
        <Empty>没有找到。请检查卡号，或只输入姓名中的一两个字再试。</Empty>
      ) : null}
      {items && items.length ? (
        <ul class="pick" aria-label="查找结果">
          {items.map((h) => (
            <li key={h.id}>
              <button type="button" onClick={() => onPick(h)}>
                <strong>{h.head}</strong> · 卡号 {h.cardNo}
                {h.members.length ? ` · 家庭成员：${h.members.map((m) => m.name).join('、')}` : ''}
              </button>
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

function Find() {
  const [picked, setPicked] = useState<Household | null>(null);
  return (
    <>
      <Section title="查找农户">
        <HouseholdSearch onPick={setPicked} autoFocus />
      </Section>
      {picked ? <HouseholdCard h={picked} /> : null}
    </>
  );
}

function HouseholdCard({ h }: { h: Household }) {
  const data = useLoad(async () => {
    const [account, entries] = await Promise.all([
      get<Account>(`/v1/households/${h.id}/account`),
      get<{ items: Entry[] }>(`/v1/households/${h.id}/entries`, { limit: 500 }),
    ]);
    return { account, entries: entries.items.slice(-10).reverse() };
  }, [h.id]);
  return (
    <Section title={`${h.head}（卡号 ${h.cardNo}）`}>
      <LoadStatus of={data} />
      {data.data ? (
        <>
          <dl class="balances">
            <div>
              <dt>可用积分（可在超市兑换）</dt>
              <dd>{data.data.account.spendable}</dd>
            </div>
            <div>
              <dt>累计积分（信用参考用）</dt>
              <dd>{data.data.account.merit}</dd>
            </div>
          </dl>
          <h3>最近的记录</h3>
          {data.data.entries.length ? (
            <ul class="entries">
              {data.data.entries.map((e) => (
                <li key={e.seq}>
                  {beijing(e.createdAt, false)} {ENTRY_TYPES[e.type] ?? e.type}{' '}
                  <strong>{pts(e.points)}</strong> {e.reason ?? ''}
                </li>
              ))}
            </ul>
          ) : (
            <Empty>还没有积分记录。</Empty>
          )}
          <button
            type="button"
            class="primary"
            onClick={() => {
              sessionStorage.setItem(
                'msl.draft.clerk-file',
                JSON.stringify({
                  ...JSON.parse(sessionStorage.getItem('msl.draft.clerk-file') ?? '{}'),
                  householdId: h.id,
                  householdName: householdLabel(h),
                }),
              );
              navigate('/clerk/file');
            }}
          >
            为这户申报积分
          </button>
        </>
      ) : null}
    </Section>
  );
}

function Register() {
  const [d, , clear, bind] = useDraft('clerk-register', { head: '', members: '', cardNo: '' });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [result, setResult] = useState<{ ok?: string; error?: string }>({});
  async function submit(e: Event) {
    e.preventDefault();
    const errs: Record<string, string> = {};
    if (!d.head.trim()) errs.head = '请填写户主姓名。';
    if (!/^[A-Za-z0-9-]{4,32}$/.test(d.cardNo.trim()))
      errs.cardNo = '请填写积分卡号：4–32 位字母、数字或“-”，如 DM-0101。';
    setErrors(errs);
    if (Object.keys(errs).length) return;
    const members = d.members
      .split(/[、,，;；\s]+/)
      .map((s) => s.trim())
      .filter(Boolean)
      .map((name) => ({ name }));
    try {
      const h = await post<Household>('/v1/households', {
        villageId: villageId(),
        head: d.head.trim(),
        members,
        cardNo: d.cardNo.trim(),
      });
      clear();
      setResult({ ok: `已登记：${h.head}，卡号 ${h.cardNo}。` });
    } catch (err) {
      const code = (err as { code?: string }).code;
      setResult({
        error:
          code === 'conflict'
            ? `卡号 ${d.cardNo.trim()} 已经登记过了，请核对卡号。`
            : describeError(err, FILE_LABELS),
      });
    }
  }
  return (
    <Section title="登记农户">
      <form onSubmit={submit} noValidate>
        <Field label="户主姓名" name="head" {...bind('head')} error={errors.head} required />
        <Field
          label="家庭成员"
          name="members"
          {...bind('members')}
          hint="多个名字用顿号“、”隔开，如：李秀英、王子涵。"
        />
        <Field
          label="积分卡号"
          name="cardNo"
          {...bind('cardNo')}
          error={errors.cardNo}
          required
          hint="可以直接扫卡。"
        />
        <Outcome of={result} />
        <button type="submit" class="primary">
          登记
        </button>
      </form>
    </Section>
  );
}

/** Shrinks a photo to at most 1600 px and JPEG, as base64 (phone photos are several MB). */
async function shrinkPhoto(file: File): Promise<string> {
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(1, 1600 / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement('canvas');
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  canvas.getContext('2d')!.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  for (const quality of [0.82, 0.7, 0.55, 0.4]) {
    const blob = await new Promise<Blob | null>((r) => canvas.toBlob(r, 'image/jpeg', quality));
    if (blob && blob.size <= 650 * 1024) {
      const bytes = new Uint8Array(await blob.arrayBuffer());
      let bin = '';
      for (let i = 0; i < bytes.length; i += 0x8000)
        bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      return btoa(bin);
    }
  }
  throw new Error('photo too large');
}

function useRules() {
  return useLoad(
    () =>
      get<{ items: Rule[] }>('/v1/rules', { villageId: villageId() }).then((r) =>
        r.items.filter((x) => x.inForce),
      ),
    [],
  );
}

/** A photo chosen, shrunk and kept in the form's draft (so a sign-in in between keeps it too). */
function PhotoInput({
  photo,
  onPhoto,
  error,
}: {
  photo: string;
  onPhoto: (base64: string) => void;
  error?: string;
}) {
  const [problem, setProblem] = useState('');
  return (
    <div class={`field ${error || problem ? 'has-error' : ''}`}>
      <label for="photo">证明照片</label>
      <input
        id="photo"
        name="photo"
        type="file"
        accept="image/*"
        capture="environment"
        aria-describedby="photo-hint"
        onChange={async (e) => {
          const file = (e.currentTarget as HTMLInputElement).files?.[0];
          setProblem('');
          if (!file) return;
          try {
            onPhoto(await shrinkPhoto(file));
          } catch {
            setProblem('这张照片读不出来或太大，请换一张（JPG 或 PNG）。');
          }
        }}
      />
      <p class="hint" id="photo-hint">
        可拍照或选择照片（证书、活动现场等），会自动压缩后上传。
      </p>
      {photo ? (
        <div class="photos">
          <img src={`data:image/jpeg;base64,${photo}`} alt="已选的证明照片" />
          <button type="button" class="link-button" onClick={() => onPhoto('')}>
            去掉照片
          </button>
        </div>
      ) : null}
      {error || problem ? <p class="error">{error || problem}</p> : null}
    </div>
  );
}

interface Preview {
  requestedPoints: number;
  points: number;
  capped: { limitedBy: 'month' | 'year'; cap: number; usedBefore: number } | null;
  kind: 'award' | 'deduction';
}

function FileOne() {
  const rules = useRules();
  const [d, set, clear, bind] = useDraft('clerk-file', {
    householdId: '',
    householdName: '',
    ruleCode: '',
    quantity: '',
    occurredOn: todayUtc(),
    text: '',
    photo: '',
  });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [result, setResult] = useState<{ ok?: Submission; error?: string }>({});
  const [busy, setBusy] = useState(false);
  const rule = rules.data?.find((r) => r.code === d.ruleCode);
  const preview = useLoad<Preview | null>(
    () =>
      d.householdId &&
      rule &&
      (rule.pointsPerUnit === undefined || Number(d.quantity) > 0) &&
      /^\d{4}-\d{2}-\d{2}$/.test(d.occurredOn)
        ? get<Preview>(`/v1/rules/${rule.code}/preview`, {
            villageId: villageId(),
            householdId: d.householdId,
            occurredOn: d.occurredOn,
            quantity: rule.pointsPerUnit !== undefined ? d.quantity : undefined,
          })
        : Promise.resolve(null),
    [d.householdId, rule?.code, d.quantity, d.occurredOn],
  );

  async function submit(e: Event) {
    e.preventDefault();
    const errs: Record<string, string> = {};
    if (!d.householdId) errs.householdId = '请先查找并选择农户。';
    if (!rule) errs.ruleCode = '请选择积分细则。';
    if (rule?.pointsPerUnit !== undefined && !(Number(d.quantity) > 0))
      errs.quantity = `请填写${rule.unit ?? '数量'}，如 2 或 1.5。`;
    if (!/^\d{4}-\d{2}-\d{2}$/.test(d.occurredOn)) errs.occurredOn = '请选择事情发生的日期。';
    else if (d.occurredOn > todayUtc()) errs.occurredOn = '发生日期不能晚于今天。';
    if (!d.text.trim()) errs.text = '请写明证明材料：谁、做了什么、谁可以证明。';
    if (rule?.attachmentRequired && !d.photo)
      errs.photo = '这条细则需要证明照片，请拍照或选择照片。';
    setErrors(errs);
    setResult({});
    if (Object.keys(errs).length) return;
    setBusy(true);
    try {
      const attachments: string[] = [];
      if (d.photo) {
        const up = await post<{ ref: string }>('/v1/attachments', {
          villageId: villageId(),
          contentType: 'image/jpeg',
          data: d.photo,
        });
        attachments.push(up.ref);
      }
      const body: Record<string, unknown> = {
        villageId: villageId(),
        householdId: d.householdId,
        ruleCode: d.ruleCode,
        occurredOn: d.occurredOn,
        evidence: { text: d.text.trim(), ...(attachments.length ? { attachments } : {}) },
      };
      if (rule?.pointsPerUnit !== undefined) body.quantity = Number(d.quantity);
      const s = await post<Submission>('/v1/submissions', body);
      clear();
      setResult({ ok: s });
    } catch (err) {
      setResult({ error: describeError(err, FILE_LABELS) });
    } finally {
      setBusy(false);
    }
  }

  return (
    <Section title="申报积分（加分或扣分）">
      <form onSubmit={submit} noValidate>
        {d.householdId ? (
          <div class="chosen">
            <span>
              农户：<strong>{d.householdName}</strong>
            </span>
            <button
              type="button"
              class="link-button"
              onClick={() => set({ householdId: '', householdName: '' })}
            >
              换一户
            </button>
          </div>
        ) : (
          <>
            <HouseholdSearch
              label="农户（积分卡号或姓名）"
              onPick={(h) => set({ householdId: h.id, householdName: householdLabel(h) })}
            />
            {errors.householdId ? <p class="error">{errors.householdId}</p> : null}
          </>
        )}
        {rules.loading ? <Loading what="积分细则" /> : null}
        <Select
          label="积分细则"
          name="ruleCode"
          {...bind('ruleCode')}
          placeholder="请选择"
          options={(rules.data ?? []).map((r) => ({
            value: r.code,
            label: `${r.kind === 'award' ? '【加分】' : '【扣分】'}${ruleLabel(r)}`,
          }))}
          error={errors.ruleCode}
          required
        />
        {rule?.pointsPerUnit !== undefined ? (
          <Field
            label={`数量（${rule.unit ?? ''}）`}
            name="quantity"
            inputMode="decimal"
            {...bind('quantity')}
            error={errors.quantity}
            required
          />
        ) : null}
        <Field
          label="发生日期"
          name="occurredOn"
          type="date"
          {...bind('occurredOn')}
          max={todayUtc()}
          error={errors.occurredOn}
          required
        />
        <TextArea
          label="证明材料"
          name="text"
          {...bind('text')}
          error={errors.text}
          required
          hint="写清楚：谁、什么时候、做了什么、谁可以证明。"
        />
        <PhotoInput photo={d.photo} onPhoto={(photo) => set({ photo })} error={errors.photo} />
        {preview.data ? (
          <p class="preview" role="status">
            预计{preview.data.kind === 'award' ? '加' : '扣'} <strong>{preview.data.points}</strong>{' '}
            分
            {preview.data.capped
              ? `（按细则应为 ${preview.data.requestedPoints} 分，已达${preview.data.capped.limitedBy === 'month' ? '本月' : '本年'}上限 ${preview.data.capped.cap} 分，此前已得 ${preview.data.capped.usedBefore} 分）`
              : ''}
            。评议会通过并公示期满后入账。
          </p>
        ) : null}
        {preview.error ? (
          <Alert kind="warn">暂时算不出分数：{describeError(preview.error, FILE_LABELS)}</Alert>
        ) : null}
        {result.ok ? (
          <Alert kind="ok">
            已提交评议会：{result.ok.ruleTitle}，{pts(result.ok.points)}{' '}
            分，状态“评议中”。可在“申报进度”中查看。
          </Alert>
        ) : null}
        {result.error ? <Alert kind="error">{result.error}</Alert> : null}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? '正在提交…' : '提交评议'}
        </button>
      </form>
    </Section>
  );
}

function FileBatch() {
  const rules = useRules();
  const households = useLoad(() => loadVillageHouseholds(villageId()), []);
  const [d, set, clear, bind] = useDraft('clerk-batch', {
    ruleCode: '',
    occurredOn: todayUtc(),
    text: '',
    filter: '',
    chosen: {} as Record<string, string>,
  });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [result, setResult] = useState<{ ok?: Submission; error?: string }>({});
  const awards = (rules.data ?? []).filter((r) => r.kind === 'award');
  const rule = awards.find((r) => r.code === d.ruleCode);
  const shown = useMemo(
    () =>
      (households.data ?? []).filter(
        (h) =>
          !d.filter ||
          h.head.includes(d.filter) ||
          h.cardNo.toUpperCase().includes(d.filter.toUpperCase()),
      ),
    [households.data, d.filter],
  );
  const chosenIds = Object.keys(d.chosen);
  const total = rule
    ? chosenIds.reduce(
        (n, id) =>
          n +
          (rule.pointsPerUnit !== undefined
            ? Math.floor(Number(d.chosen[id] || 0) * rule.pointsPerUnit)
            : (rule.points ?? 0)),
        0,
      )
    : 0;

  async function submit(e: Event) {
    e.preventDefault();
    const errs: Record<string, string> = {};
    if (!rule) errs.ruleCode = '请选择活动对应的加分细则。';
    if (!chosenIds.length) errs.households = '请勾选参加活动的农户。';
    if (rule?.pointsPerUnit !== undefined && chosenIds.some((id) => !(Number(d.chosen[id]) > 0)))
      errs.households = `请为每户填写${rule.unit ?? '数量'}。`;
    if (!d.text.trim()) errs.text = '请写明活动内容和证明人。';
    if (d.occurredOn > todayUtc()) errs.occurredOn = '活动日期不能晚于今天。';
    setErrors(errs);
    setResult({});
    if (Object.keys(errs).length) return;
    try {
      const s = await post<Submission>('/v1/submissions', {
        villageId: villageId(),
        ruleCode: d.ruleCode,
        occurredOn: d.occurredOn,
        evidence: { text: d.text.trim() },
        households: chosenIds.map((householdId) =>
          rule?.pointsPerUnit !== undefined
            ? { householdId, quantity: Number(d.chosen[householdId]) }
            : { householdId },
        ),
      });
      clear();
      setResult({ ok: s });
    } catch (err) {
      setResult({ error: describeError(err, FILE_LABELS) });
    }
  }

  return (
    <Section title="集体活动：一次为多户申报加分">
      <form onSubmit={submit} noValidate>
        <Select
          label="加分细则"
          name="ruleCode"
          {...bind('ruleCode')}
          placeholder="请选择"
          options={awards.map((r) => ({ value: r.code, label: ruleLabel(r) }))}
          error={errors.ruleCode}
          required
        />
        <Field
          label="活动日期"
          name="occurredOn"
          type="date"
          {...bind('occurredOn')}
          max={todayUtc()}
          error={errors.occurredOn}
          required
        />
        <TextArea
          label="活动内容和证明"
          name="text"
          {...bind('text')}
          error={errors.text}
          required
        />
        <Field label="筛选农户（姓名或卡号）" name="filter" {...bind('filter')} />
        {households.loading ? <Loading what="本村农户" /> : null}
        <fieldset class="checklist">
          <legend>参加的农户（已选 {chosenIds.length} 户）</legend>
          {errors.households ? <p class="error">{errors.households}</p> : null}
          {shown.slice(0, 200).map((h) => {
            const checked = h.id in d.chosen;
            return (
              <div class="check-row" key={h.id}>
                <input
                  type="checkbox"
                  id={`b-${h.id}`}
                  checked={checked}
                  onChange={() => {
                    const next = { ...d.chosen };
                    if (checked) delete next[h.id];
                    else next[h.id] = '';
                    set({ chosen: next });
                  }}
                />
                <label for={`b-${h.id}`}>
                  {h.head}（{h.cardNo}）
                </label>
                {checked && rule?.pointsPerUnit !== undefined ? (
                  <span class="qty">
                    <label for={`q-${h.id}`} class="sr-only">
                      {h.head}的{rule.unit}
                    </label>
                    <input
                      id={`q-${h.id}`}
                      inputMode="decimal"
                      value={d.chosen[h.id]}
                      onInput={(e) =>
                        set({
                          chosen: {
                            ...d.chosen,
                            [h.id]: (e.currentTarget as HTMLInputElement).value,
                          },
                        })
                      }
                    />
                    {rule.unit}
                  </span>
                ) : null}
              </div>
            );
          })}
        </fieldset>
        {rule && chosenIds.length ? (
          <p class="preview" role="status">
            预计共加 <strong>{total}</strong> 分（{chosenIds.length}{' '}
            户；超过每户上限的部分会被核减）。
          </p>
        ) : null}
        {result.ok ? (
          <Alert kind="ok">
            已提交评议会：{result.ok.lines.length} 户，共 {result.ok.points} 分。
          </Alert>
        ) : null}
        {result.error ? <Alert kind="error">{result.error}</Alert> : null}
        <button type="submit" class="primary">
          提交评议
        </button>
      </form>
    </Section>
  );
}

function Status() {
  const [status, setStatus] = useState('');
  const policy = useVillagePolicy(villageId());
  const households = useLoad(() => loadVillageHouseholds(villageId()), []);
  const list = useLoad(
    () =>
      get<{ items: Submission[] }>('/v1/submissions', { status: status || undefined, limit: 50 }),
    [status],
  );
  const names = useMemo(() => householdNames(households.data), [households.data]);
  return (
    <Section title="申报进度" actions={<RefreshButton onClick={list.reload} />}>
      <Select
        label="只看"
        name="status"
        value={status}
        onValue={setStatus}
        options={[
          { value: '', label: '全部' },
          { value: 'in_review', label: '评议中' },
          { value: 'in_notice', label: '公示中' },
          { value: 'posted', label: '已入账' },
          { value: 'rejected', label: '未通过' },
        ]}
      />
      <LoadStatus of={list} />
      {list.data && !list.data.items.length ? <Empty>没有申报。</Empty> : null}
      {list.data?.items.map((s) => (
        <SubmissionSummary key={s.id} s={s} names={names} quorum={policy.data?.quorum} />
      ))}
    </Section>
  );
}
