/**
 * 大屏链接: the village station screens that show the red and black lists. A clerk (or the
 * county office, or the township station for its villages) creates one link per screen, opens it
 * once in that screen's browser, and revokes it when the screen is replaced or the link leaked.
 */
import { useState } from 'preact/hooks';
import { get, post } from '../api';
import { beijing } from '../format';
import { describeError } from '../messages';
import { session } from '../session';
import { Alert, Empty, Field, Loading, Section, Select, useLoad } from '../ui';

interface BoardLink {
  id: string;
  label: string;
  createdAt: string;
  revokedAt: string | null;
}

const LABELS = { label: '屏幕位置' };

export function ScreensPage() {
  const me = session.get()?.me;
  const villages = useLoad(
    () =>
      me?.villageId
        ? Promise.resolve([])
        : get<{ items: { id: string; name: string }[] }>('/v1/villages').then((r) => r.items),
    [],
  );
  const [picked, setPicked] = useState('');
  const villageId = me?.villageId ?? (picked || villages.data?.[0]?.id || '');
  return (
    <>
      <h1>红黑榜大屏链接</h1>
      <p class="meta">
        村部的大屏不用登录：为每块屏幕生成一个链接，在那台屏幕的浏览器里打开一次，它就会一直显示本村的红黑榜，每分钟自动刷新。
        屏幕更换或链接外泄时，撤销它即可。
      </p>
      {villages.error ? <Alert kind="error">{describeError(villages.error)}</Alert> : null}
      {!me?.villageId && villages.data && villages.data.length > 0 ? (
        <Select
          label="村"
          name="village"
          value={villageId}
          onValue={setPicked}
          options={villages.data.map((v) => ({ value: v.id, label: v.name }))}
        />
      ) : null}
      {villageId ? <Links key={villageId} villageId={villageId} /> : null}
    </>
  );
}

function Links({ villageId }: { villageId: string }) {
  const links = useLoad(
    () => get<{ items: BoardLink[] }>(`/v1/villages/${villageId}/board-links`).then((r) => r.items),
    [villageId],
  );
  return (
    <>
      <NewLink villageId={villageId} onCreated={links.reload} />
      <Section title="已生成的链接">
        {links.loading && !links.data ? <Loading /> : null}
        {links.error ? <Alert kind="error">{describeError(links.error)}</Alert> : null}
        {links.data && links.data.length === 0 ? <Empty>还没有生成过大屏链接。</Empty> : null}
        {links.data && links.data.length > 0 ? (
          <ul class="plain">
            {links.data.map((l) => (
              <LinkRow key={l.id} villageId={villageId} link={l} onRevoked={links.reload} />
            ))}
          </ul>
        ) : null}
      </Section>
    </>
  );
}

function NewLink({ villageId, onCreated }: { villageId: string; onCreated: () => void }) {
  const [label, setLabel] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const [made, setMade] = useState<{ label: string; url: string } | null>(null);
  async function create() {
    if (!label.trim()) {
      setError('请填写这块屏幕放在哪里，如“村部大厅”。');
      return;
    }
    setBusy(true);
    setError('');
    try {
      const r = await post<BoardLink & { secret: string }>(
        `/v1/villages/${villageId}/board-links`,
        { label: label.trim() },
      );
      setMade({ label: r.label, url: `${location.origin}/app/display#${r.secret}` });
      setLabel('');
      onCreated();
    } catch (err) {
      setError(describeError(err, LABELS));
    } finally {
      setBusy(false);
    }
  }
  return (
    <Section title="生成新的大屏链接">
      <Field
        label="屏幕位置"
        name="label"
        value={label}
        onValue={setLabel}
        required
        hint="如：村部大厅、文化广场。最多 40 个字。"
        error={error}
        onEnter={() => void create()}
      />
      <button type="button" class="primary" disabled={busy} onClick={() => void create()}>
        生成链接
      </button>
      {made ? (
        <div class="alert alert-ok" role="status">
          <p>
            “{made.label}”的大屏链接已生成。<strong>它只显示这一次</strong>
            ：请现在在那块屏幕的浏览器里打开它（或复制后发到那台电脑上打开）。
          </p>
          <div class="field">
            <label for="board-link-url">大屏链接</label>
            <input
              id="board-link-url"
              readOnly
              value={made.url}
              onFocus={(e) => e.currentTarget.select()}
            />
          </div>
        </div>
      ) : null}
    </Section>
  );
}

function LinkRow(p: { villageId: string; link: BoardLink; onRevoked: () => void }) {
  const { link } = p;
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState('');
  async function revoke() {
    setError('');
    try {
      await post(`/v1/villages/${p.villageId}/board-links/${link.id}/revocation`);
      setConfirming(false);
      p.onRevoked();
    } catch (err) {
      setError(describeError(err));
    }
  }
  return (
    <li class="board-link">
      <strong>{link.label}</strong> · 生成于 {beijing(link.createdAt)} ·
      {link.revokedAt ? (
        <span>已撤销（{beijing(link.revokedAt)}）</span>
      ) : confirming ? (
        <span role="group" aria-label={`确认撤销“${link.label}”`}>
          撤销后，这块屏幕下次刷新时就不再显示红黑榜。确定撤销？
          <button type="button" class="danger" onClick={() => void revoke()}>
            确定撤销
          </button>
          <button type="button" onClick={() => setConfirming(false)}>
            取消
          </button>
        </span>
      ) : (
        <>
          <span>使用中</span>{' '}
          <button
            type="button"

            aria-label={`撤销“${link.label}”的大屏链接`}
            onClick={() => setConfirming(true)}
          >
            撤销
          </button>
        </>
      )}
      {error ? <Alert kind="error">{error}</Alert> : null}
    </li>
  );
}
