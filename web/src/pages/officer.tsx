/**
 * 信用社信贷员: find a consenting household of the cooperative's area, state the purpose, read
 * score, grade, reasons and the 24-month trend; request a whole-village export, watch it, download
 * the file and its signed manifest, and verify them offline with openssl.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, get, post } from '../api';
import { useDraft } from '../drafts';
import { beijing } from '../format';
import { describeError } from '../messages';
import type {
  ConsentingHousehold as Found,
  CreditExport,
  CreditHistory as History,
  CreditReference as Credit,
} from '../shapes';
import { session } from '../session';
import { Alert, download, Empty, Field, Loading, Section, Tabs, useLoad } from '../ui';

/** What the page follows of an export: the POST answers only its id and state. */
type ExportStatus = Pick<CreditExport, 'id' | 'status' | 'progress' | 'rows' | 'error'>;

const TABS = [
  { path: '/officer', label: '查询农户' },
  { path: '/officer/export', label: '整村导出' },
];

export function OfficerPage({ path }: { path: string }) {
  return (
    <>
      <h1>信用参考查询</h1>
      <Tabs tabs={TABS} current={path} />
      {path === '/officer/export' ? <Export /> : <Lookup />}
    </>
  );
}

function Lookup() {
  const [d, , , bind] = useDraft('officer-lookup', { q: '', purpose: '' });
  const [found, setFound] = useState<Found[] | null>(null);
  const [picked, setPicked] = useState<Found | null>(null);
  const [result, setResult] = useState<{ credit: Credit; history: History } | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [failure, setFailure] = useState('');

  async function search() {
    setFailure('');
    try {
      setFound(
        (await get<{ items: Found[] }>('/v1/credit/households', { q: d.q.trim() || undefined }))
          .items,
      );
    } catch (err) {
      setFailure(describeError(err, { q: '积分卡号或姓名' }));
    }
  }

  async function lookUp(e: Event) {
    e.preventDefault();
    const errs: Record<string, string> = {};
    if (!picked) errs.picked = '请先在查找结果中选一户。';
    if (!d.purpose.trim())
      errs.purpose = '请写明查询目的，如“农户小额信用贷款审批”。每次查询都会告知农户。';
    setErrors(errs);
    setResult(null);
    setFailure('');
    if (Object.keys(errs).length || !picked) return;
    try {
      const purpose = d.purpose.trim();
      const credit = await get<Credit>(`/v1/credit/households/${picked.householdId}`, { purpose });
      const history = await get<History>(`/v1/credit/households/${picked.householdId}/history`, {
        purpose,
        months: 24,
      });
      setResult({ credit, history });
    } catch (err) {
      setFailure(describeError(err, { purpose: '查询目的' }));
    }
  }

  return (
    <>
      <Section title="查找已授权的农户">
        <p class="lead">只列出本信用社服务范围内、已授权本社查询的农户。姓名只显示首尾字。</p>
        <div class="row">
          <Field
            label="积分卡号或姓名（可空着，列出全部）"
            name="q"
            {...bind('q')}
            onEnter={search}
          />
          <button type="button" onClick={search}>
            查找
          </button>
        </div>
        {found && !found.length ? (
          <Empty>没有找到已授权的农户。农户须先在“我的积分”页面或到村委会授权本社。</Empty>
        ) : null}
        {found && found.length ? (
          <ul class="pick" aria-label="已授权的农户">
            {found.map((f) => (
              <li key={f.householdId}>
                <button
                  type="button"
                  aria-pressed={picked?.householdId === f.householdId}
                  onClick={() => setPicked(f)}
                >
                  <strong>{f.headMasked}</strong> · {f.villageName} · 卡号 {f.cardNo} · 授权至{' '}
                  {beijing(f.consentExpiresAt, false)}
                </button>
              </li>
            ))}
          </ul>
        ) : null}
      </Section>
      <Section title="查询信用参考分">
        <form onSubmit={lookUp} noValidate>
          <p>
            查询对象：
            <strong>
              {picked
                ? `${picked.headMasked}（${picked.villageName}，卡号 ${picked.cardNo}）`
                : '未选择'}
            </strong>
          </p>
          {errors.picked ? <p class="error">{errors.picked}</p> : null}
          <Field
            label="查询目的"
            name="purpose"
            {...bind('purpose')}
            error={errors.purpose}
            required
            hint="会记入查询记录，农户可以看到谁、何时、为何查询。"
          />
          {failure ? <Alert kind="error">{failure}</Alert> : null}
          <button type="submit" class="primary">
            查询
          </button>
        </form>
      </Section>
      {result ? <CreditResult credit={result.credit} history={result.history} /> : null}
    </>
  );
}

function CreditResult({ credit, history }: { credit: Credit; history: History }) {
  return (
    <Section title="信用参考结果">
      <dl class="balances">
        <div>
          <dt>信用参考分（0–1000）</dt>
          <dd class="big">{credit.score}</dd>
        </div>
        <div>
          <dt>等级</dt>
          <dd class="big">{credit.grade}</dd>
        </div>
      </dl>
      <p class="meta">
        截至 {beijing(credit.asOf)}，模型 {credit.modelVersion}。只是贷款评级的参考之一。
      </p>
      <h3>主要原因</h3>
      <ul class="reasons">
        {credit.reasons.map((r) => (
          <li key={r.code}>
            {r.text}（{r.impact > 0 ? '+' : ''}
            {r.impact}）
          </li>
        ))}
      </ul>
      <h3>近 24 个月走势</h3>
      <TrendChart points={history.points} />
    </Section>
  );
}

/** An inline SVG line chart of month-end scores (0–1000), with a text table for screen readers. */
export function TrendChart({ points }: { points: { month: string; score: number }[] }) {
  const w = 640;
  const h = 220;
  const pad = { l: 40, r: 34, t: 10, b: 30 };
  const x = (i: number) => pad.l + (i * (w - pad.l - pad.r)) / Math.max(1, points.length - 1);
  const y = (s: number) => pad.t + ((1000 - s) * (h - pad.t - pad.b)) / 1000;
  const line = points
    .map((p, i) => `${i ? 'L' : 'M'}${x(i).toFixed(1)},${y(p.score).toFixed(1)}`)
    .join(' ');
  return (
    <figure class="chart">
      <svg
        viewBox={`0 0 ${w} ${h}`}
        role="img"
        aria-label={`信用参考分走势：从 ${points[0]?.month ?? ''} 的 ${points[0]?.score ?? ''} 分到 ${points[points.length - 1]?.month ?? ''} 的 ${points[points.length - 1]?.score ?? ''} 分`}
      >
        {[0, 250, 500, 750, 1000].map((s) => (
          <g key={s}>
            <line x1={pad.l} x2={w - pad.r} y1={y(s)} y2={y(s)} class="grid" />
            <text x={pad.l - 6} y={y(s) + 4} text-anchor="end" class="axis">
              {s}
            </text>
          </g>
        ))}
        {points.map((p, i) =>
          i % 6 === 0 || i === points.length - 1 ? (
            <text key={p.month} x={x(i)} y={h - 8} text-anchor="middle" class="axis">
              {p.month}
            </text>
          ) : null,
        )}
        <path d={line} class="trend" />
        {points.map((p, i) => (
          <circle key={p.month} cx={x(i)} cy={y(p.score)} r="3" class="dot" />
        ))}
      </svg>
      <details>
        <summary>查看每月数值</summary>
        <table>
          <caption class="sr-only">每月信用参考分</caption>
          <thead>
            <tr>
              <th scope="col">月份</th>
              <th scope="col">分数</th>
            </tr>
          </thead>
          <tbody>
            {points.map((p) => (
              <tr key={p.month}>
                <td>{p.month}</td>
                <td>{p.score}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}

const EXPORT_STATUS: Record<string, string> = {
  queued: '排队中',
  running: '正在生成',
  done: '已完成',
  failed: '失败',
};

function Export() {
  const coopId = session.get()?.me.cooperativeId ?? '';
  const coop = useLoad(
    () =>
      get<{ name: string; villages: { id: string; name: string }[] }>(`/v1/cooperatives/${coopId}`),
    [],
  );
  const villages = coop.data?.villages ?? [];
  const [chosen, setChosen] = useState<Record<string, boolean>>({});
  const [job, setJob] = useState<ExportStatus | null>(null);
  const [error, setError] = useState('');

  useEffect(() => {
    if (!job || job.status === 'done' || job.status === 'failed') return;
    const t = setTimeout(async () => {
      try {
        setJob(await get<ExportStatus>(`/v1/credit/exports/${job.id}`));
      } catch (err) {
        setError(describeError(err));
      }
    }, 700);
    return () => clearTimeout(t);
  }, [job]);

  async function start(e: Event) {
    e.preventDefault();
    const villageIds = Object.keys(chosen).filter((k) => chosen[k]);
    if (!villageIds.length) {
      setError('请至少勾选一个村。');
      return;
    }
    setError('');
    try {
      const r = await post<{ id: string }>('/v1/credit/exports', { villageIds });
      setJob({ id: r.id, status: 'queued', progress: 0 });
    } catch (err) {
      setError(describeError(err, { villageIds: '村' }));
    }
  }

  async function save(what: 'file' | 'manifest' | 'keys') {
    if (!job) return;
    try {
      if (what === 'file')
        download(
          await api<Blob>(`/v1/credit/exports/${job.id}/file`, { as: 'blob' }),
          `credit-export-${job.id}.csv`,
        );
      else if (what === 'manifest')
        download(
          new Blob([JSON.stringify(await get(`/v1/credit/exports/${job.id}/manifest`), null, 2)], {
            type: 'application/json',
          }),
          `credit-export-${job.id}.manifest.json`,
        );
      else
        download(
          new Blob([JSON.stringify(await get('/v1/credit/keys'), null, 2)], {
            type: 'application/json',
          }),
          'jwks.json',
        );
    } catch (err) {
      setError(`下载没有成功：${describeError(err)}`);
    }
  }

  return (
    <Section title={`整村导出${coop.data ? `（${coop.data.name}）` : ''}`}>
      <p class="lead">
        导出所选村中已授权本社的农户的信用参考分（CSV），附带签名清单，可离线核验文件未被改动。每户都会记入查询记录。
      </p>
      {coop.loading ? <Loading /> : null}
      <form onSubmit={start} noValidate>
        <fieldset class="checklist">
          <legend>要导出的村</legend>
          {villages.map((v) => (
            <div class="check-row" key={v.id}>
              <input
                type="checkbox"
                id={`v-${v.id}`}
                checked={Boolean(chosen[v.id])}
                onChange={() => setChosen({ ...chosen, [v.id]: !chosen[v.id] })}
              />
              <label for={`v-${v.id}`}>{v.name}</label>
            </div>
          ))}
        </fieldset>
        {error ? <Alert kind="error">{error}</Alert> : null}
        <button
          type="submit"
          class="primary"
          disabled={Boolean(job && job.status !== 'done' && job.status !== 'failed')}
        >
          开始导出
        </button>
      </form>
      {job ? (
        <div class="export">
          <label for="export-progress">
            导出进度：{EXPORT_STATUS[job.status]} {job.progress}%
          </label>
          <progress id="export-progress" max={100} value={job.progress} />
          {job.status === 'failed' ? (
            <Alert kind="error">导出失败：{job.error ?? '原因未知'}。请重新开始导出。</Alert>
          ) : null}
          {job.status === 'done' ? (
            <>
              <Alert kind="ok">
                导出完成，共 {job.rows ?? 0}{' '}
                户。请下载文件、签名清单和公钥，离线核验后再导入本社系统。
              </Alert>
              <div class="buttons">
                <button type="button" onClick={() => save('file')}>
                  下载 CSV 文件
                </button>
                <button type="button" onClick={() => save('manifest')}>
                  下载签名清单
                </button>
                <button type="button" onClick={() => save('keys')}>
                  下载公钥（JWKS）
                </button>
              </div>
              <h3>用 openssl 核验</h3>
              <pre class="code">{verifyCommands(job.id)}</pre>
            </>
          ) : null}
        </div>
      ) : null}
    </Section>
  );
}

/** The openssl commands that check the file against the manifest's SHA-256 and Ed25519 signature. */
export function verifyCommands(id: string): string {
  const f = `credit-export-${id}.csv`;
  const m = `credit-export-${id}.manifest.json`;
  return [
    `# 1. 文件的 SHA-256 应与清单中的 sha256 相同`,
    `openssl dgst -sha256 ${f}`,
    `jq -r .sha256 ${m}`,
    `# 2. 用清单中 keyId 对应的公钥核验签名（x 为 JWKS 中的公钥）`,
    `X=$(jq -r --arg k "$(jq -r .keyId ${m})" '.keys[] | select(.kid==$k) | .x' jwks.json)`,
    `(printf '\\x30\\x2a\\x30\\x05\\x06\\x03\\x2b\\x65\\x70\\x03\\x21\\x00'; printf '%s=' "$X" | tr '_-' '/+' | base64 -d) > pub.der`,
    `openssl pkey -pubin -inform DER -in pub.der -out pub.pem`,
    `jq -r .signature ${m} | base64 -d > sig.bin`,
    `openssl pkeyutl -verify -pubin -inkey pub.pem -rawin -in ${f} -sigfile sig.bin`,
    `# 显示 “Signature Verified Successfully” 即文件真实、未被改动。`,
  ].join('\n');
}
