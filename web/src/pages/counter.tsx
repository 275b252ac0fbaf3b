/**
 * 公益超市收银台: card (a barcode/QR reader types it and presses Enter), masked name and points,
 * items and total, redeem, print the 32-column receipt, the day's sales and stock. Works with the
 * keyboard alone. A basket carries one Idempotency-Key from its first item to its answer: after a
 * network failure "重试" sends the same key and the same basket again, so nothing is spent twice.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api, get, NetworkError } from '../api';
import { useDraft } from '../drafts';
import { beijing, todayCst } from '../format';
import { describeError } from '../messages';
import type {
  CounterCard as Card,
  Redemption,
  StoreDayReport as Report,
  StoreItem as Item,
} from '../shapes';
import { session } from '../session';
import {
  Alert,
  Empty,
  Field,
  Loading,
  LoadStatus,
  RefreshButton,
  Section,
  Tabs,
  useLoad,
} from '../ui';

const TABS = [
  { path: '/counter', label: '收银' },
  { path: '/counter/day', label: '今日销售和库存' },
];

const storeId = () => session.get()?.me.storeId ?? '';

/** A fresh basket key: random, visible ASCII (works on plain-http LAN pages, unlike randomUUID). */
function newKey(): string {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return `basket-${[...b].map((x) => x.toString(16).padStart(2, '0')).join('')}`;
}

export function CounterPage({ path }: { path: string }) {
  return (
    <>
      <h1 class="sr-only">公益超市收银台</h1>
      <Tabs tabs={TABS} current={path} />
      {path === '/counter/day' ? <DayReport /> : <Checkout />}
    </>
  );
}

function explain(err: unknown, card: Card | null, total: number, items: Item[]): string {
  if (err instanceof ApiError) {
    const b = err.body;
    switch (err.code) {
      case 'insufficient_points':
        return `积分不足：本卡可用 ${card?.spendable ?? '?'} 分，本单需要 ${total} 分。请减少商品，再按“确认兑换”。`;
      case 'out_of_stock': {
        const item = items.find((i) => i.sku === b.sku);
        return `库存不足：“${item?.name ?? String(b.sku ?? '')}”只剩 ${String(b.available ?? 0)} 件。请减少数量，再按“确认兑换”。`;
      }
      case 'daily_limit_exceeded':
        return `超过本村每日兑换上限：每天最多 ${String(b.limit ?? '?')} 分，今天已兑换 ${String(b.usedToday ?? '?')} 分。请减少商品或明天再来。`;
      case 'card_locked':
        return `此卡连续输错 3 次密码，已锁定到 ${beijing(String(b.lockedUntil ?? ''))}。请到时再试，或请村文书重设密码。`;
      case 'pin_required':
        return '此卡设有密码：请持卡人在“卡密码”中输入，然后按回车。';
      case 'pin_incorrect':
        return `卡密码不对，还可以再试 ${String(b.attemptsLeft ?? '?')} 次。请持卡人重新输入。`;
      case 'not_found':
        return '没有找到这张卡，或它不属于本超市服务的村。请核对卡号后重新扫卡。';
      case 'conflict':
        return '上一次发送仍在处理中。请等几秒，再按“重试”（同一单，不会重复扣分）。';
      case 'validation_failed':
        return err.errors.some((e) => e.path.startsWith('items'))
          ? '本单中有本店不卖的商品，请删掉后再试。'
          : describeError(err, { cardNo: '积分卡号', pin: '卡密码' });
      default:
        return describeError(err);
    }
  }
  return describeError(err);
}

function Checkout() {
  const items = useLoad(
    () => get<{ items: Item[] }>(`/v1/stores/${storeId()}/items`).then((r) => r.items),
    [],
  );
  const [d, set, clear, bind] = useDraft('counter-basket', {
    cardInput: '',
    cardNo: '',
    lines: {} as Record<string, number>,
    key: '',
    uncertain: false,
  });
  const [card, setCard] = useState<Card | null>(null);
  const [sku, setSku] = useState('');
  const [pin, setPin] = useState('');
  const [needPin, setNeedPin] = useState(false);
  const [message, setMessage] = useState<{
    kind: 'error' | 'warn' | 'ok' | 'info';
    text: string;
  } | null>(null);
  const [done, setDone] = useState<Redemption | null>(null);
  const [receipt, setReceipt] = useState('');
  const [busy, setBusy] = useState(false);
  const cardRef = useRef<HTMLInputElement | null>(null);
  const skuRef = useRef<HTMLInputElement | null>(null);
  const pinRef = useRef<HTMLInputElement | null>(null);
  const redeemRef = useRef<HTMLButtonElement | null>(null);
  const retryRef = useRef<HTMLButtonElement | null>(null);
  const printRef = useRef<HTMLButtonElement | null>(null);
  const inFlight = useRef(false);

  const catalogue = items.data ?? [];
  const lines = Object.entries(d.lines).map(([s, qty]) => ({
    item: catalogue.find((i) => i.sku === s),
    sku: s,
    qty,
  }));
  const total = lines.reduce((n, l) => n + (l.item?.points ?? 0) * l.qty, 0);

  // The cursor starts in the card field; after a reload in the middle of a basket, the card is read again.
  useEffect(() => {
    cardRef.current?.focus();
    if (d.cardNo && !card) void readCard(d.cardNo, false);
  }, []);

  async function readCard(cardNo: string, focusNext = true) {
    setMessage(null);
    try {
      const c = await get<Card>(`/v1/cards/${encodeURIComponent(cardNo)}`);
      setCard(c);
      setNeedPin(c.pinSet);
      set({ cardNo: c.cardNo, cardInput: c.cardNo, key: d.key || newKey() });
      if (c.lockedUntil)
        setMessage({
          kind: 'error',
          text: `此卡已锁定到 ${beijing(c.lockedUntil)}，暂时不能兑换。`,
        });
      if (focusNext) setTimeout(() => skuRef.current?.focus(), 0);
    } catch (err) {
      setCard(null);
      setMessage({
        kind: 'error',
        text:
          err instanceof ApiError && err.status === 400
            ? '卡号格式不对：应为 4–32 位字母、数字或“-”。请重新扫卡。'
            : explain(err, null, 0, catalogue),
      });
      cardRef.current?.select();
    }
  }

  function onCardEnter() {
    const v = d.cardInput.trim();
    if (!v) {
      setMessage({ kind: 'error', text: '请先扫卡，或输入积分卡号后按回车。' });
      return;
    }
    if (d.uncertain) return;
    if (v !== d.cardNo) set({ lines: {}, key: newKey() });
    void readCard(v);
  }

  function addSku() {
    const code = sku.trim();
    if (!code) {
      redeemRef.current?.focus();
      return;
    }
    const item = catalogue.find(
      (i) => i.sku.toUpperCase() === code.toUpperCase() || i.name === code,
    );
    if (!item) {
      setMessage({
        kind: 'error',
        text: `没有编码为“${code}”的商品。请核对后重新扫码，或从下面的商品表中选择。`,
      });
      return;
    }
    addItem(item);
    setSku('');
  }

  function addItem(item: Item) {
    if (d.uncertain) return;
    setMessage(null);
    set({
      lines: { ...d.lines, [item.sku]: (d.lines[item.sku] ?? 0) + 1 },
      key: d.key || newKey(),
    });
  }

  function setQty(s: string, qty: number) {
    if (d.uncertain) return;
    const next = { ...d.lines };
    if (qty > 0) next[s] = Math.min(999, qty);
    else delete next[s];
    // A changed basket is a new basket: it gets a new key.
    set({ lines: next, key: newKey() });
  }

  async function redeem() {
    // One request at a time; the buttons stay enabled so the keyboard focus is never lost.
    if (inFlight.current) return;
    if (!card) {
      setMessage({ kind: 'error', text: '请先扫卡。' });
      cardRef.current?.focus();
      return;
    }
    if (!lines.length) {
      setMessage({ kind: 'error', text: '本单还没有商品：请扫商品码或从商品表中添加。' });
      skuRef.current?.focus();
      return;
    }
    if (needPin && !/^\d{4,6}$/.test(pin)) {
      setMessage({
        kind: 'error',
        text: '此卡设有密码：请持卡人输入 4–6 位数字密码，然后按回车。',
      });
      pinRef.current?.focus();
      return;
    }
    const key = d.key || newKey();
    if (!d.key) set({ key });
    setBusy(true);
    inFlight.current = true;
    setMessage(null);
    try {
      const r = await api<Redemption>('/v1/redemptions', {
        method: 'POST',
        headers: { 'Idempotency-Key': key },
        body: {
          cardNo: card.cardNo,
          items: lines.map((l) => ({ sku: l.sku, qty: l.qty })),
          ...(needPin ? { pin } : {}),
        },
      });
      setDone(r);
      setCard({ ...card, spendable: r.spendableAfter });
      clear();
      setPin('');
      setMessage({
        kind: 'ok',
        text: `兑换成功：扣 ${r.points} 分，卡上还剩 ${r.spendableAfter} 分。小票号 ${r.receiptNo}。`,
      });
      setTimeout(() => printRef.current?.focus(), 0);
    } catch (err) {
      if (err instanceof NetworkError) {
        set({ uncertain: true, key });
        setMessage({
          kind: 'warn',
          text: '网络中断，不知道这一单是否已经兑换成功。请按“重试”：会用同一单号重新发送，绝不会重复扣分。',
        });
        setTimeout(() => retryRef.current?.focus(), 0);
      } else {
        const e = err as ApiError;
        if (e.code === 'pin_required' || e.code === 'pin_incorrect') {
          setNeedPin(true);
          setPin('');
          setTimeout(() => pinRef.current?.focus(), 0);
        }
        // A stored refusal stays a refusal under its key: a changed basket gets a new one.
        if (['insufficient_points', 'out_of_stock', 'daily_limit_exceeded'].includes(e.code))
          set({ key: newKey(), uncertain: false });
        if (e.code === 'conflict') set({ uncertain: true, key });
        else if (!['insufficient_points', 'out_of_stock', 'daily_limit_exceeded'].includes(e.code))
          set({ uncertain: false });
        setMessage({ kind: 'error', text: explain(err, card, total, catalogue) });
        if (e.code === 'conflict') setTimeout(() => retryRef.current?.focus(), 0);
      }
    } finally {
      inFlight.current = false;
      setBusy(false);
    }
  }

  async function printReceipt() {
    if (!done) return;
    try {
      setReceipt(await api<string>(`/v1/redemptions/${done.id}/receipt.txt`, { as: 'text' }));
      setTimeout(() => window.print(), 0);
    } catch (err) {
      setMessage({ kind: 'error', text: `小票没有取到：${describeError(err)} 请再按“打印小票”。` });
    }
  }

  function next() {
    clear();
    setCard(null);
    setDone(null);
    setReceipt('');
    setPin('');
    setNeedPin(false);
    setMessage(null);
    setSku('');
    setTimeout(() => cardRef.current?.focus(), 0);
  }

  function abandon() {
    if (!confirm('放弃本单？如果刚才其实已经兑换成功，积分已经扣除，请在“今日销售和库存”中核对。'))
      return;
    next();
  }

  // Shortcuts work wherever the focus is (also on the page itself, after a button was disabled).
  const keys = useRef<(e: KeyboardEvent) => void>(() => undefined);
  keys.current = (e: KeyboardEvent) => {
    if (e.key === 'Enter' && e.ctrlKey && !done) {
      e.preventDefault();
      void redeem();
    }
    // Esc ends this customer (not while an unanswered redemption must be retried).
    if (e.key === 'Escape' && !d.uncertain && !busy) {
      e.preventDefault();
      next();
    }
  };
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => keys.current(e);
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);

  return (
    <div class="counter">
      <div class="counter-main">
        <Section title="1. 扫卡">
          <Field
            label="积分卡号（扫卡或输入后按回车）"
            name="cardNo"
            {...bind('cardInput')}
            onEnter={onCardEnter}
            inputRef={cardRef}
            autoFocus
            disabled={d.uncertain || Boolean(done)}
          />
          {card ? (
            <dl class="cardinfo" aria-live="polite">
              <div>
                <dt>户主</dt>
                <dd>{card.headMasked}</dd>
              </div>
              <div>
                <dt>村</dt>
                <dd>{card.villageName}</dd>
              </div>
              <div>
                <dt>可用积分</dt>
                <dd class="big">{card.spendable}</dd>
              </div>
              {card.dailyLimit ? (
                <div>
                  <dt>每日上限</dt>
                  <dd>{card.dailyLimit} 分</dd>
                </div>
              ) : null}
            </dl>
          ) : null}
        </Section>
        <Section title="2. 选商品">
          <Field
            label="商品编码（扫码或输入后按回车，加 1 件；空着按回车去结算）"
            name="sku"
            value={sku}
            onValue={setSku}
            onEnter={addSku}
            inputRef={skuRef}
            disabled={!card || d.uncertain || Boolean(done)}
          />
          {items.loading ? <Loading what="商品" /> : null}
          <table class="items">
            <caption class="sr-only">本店商品</caption>
            <thead>
              <tr>
                <th scope="col">商品</th>
                <th scope="col">编码</th>
                <th scope="col">积分</th>
                <th scope="col">库存</th>
                <th scope="col">
                  <span class="sr-only">操作</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {catalogue.map((i) => (
                <tr key={i.sku}>
                  <td>{i.name}</td>
                  <td>{i.sku}</td>
                  <td>{i.points}</td>
                  <td>{i.stock}</td>
                  <td>
                    <button
                      type="button"
                      disabled={!card || d.uncertain || Boolean(done) || i.stock <= 0}
                      onClick={() => addItem(i)}
                      aria-label={`加入 ${i.name}`}
                    >
                      加入
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </Section>
      </div>
      <div class="counter-side">
        <Section title="3. 本单">
          {lines.length ? (
            <table class="basket">
              <caption class="sr-only">本单商品</caption>
              <thead>
                <tr>
                  <th scope="col">商品</th>
                  <th scope="col">数量</th>
                  <th scope="col">积分</th>
                </tr>
              </thead>
              <tbody>
                {lines.map((l) => (
                  <tr key={l.sku}>
                    <td>{l.item?.name ?? l.sku}</td>
                    <td>
                      <label class="sr-only" for={`qty-${l.sku}`}>
                        {l.item?.name ?? l.sku}的数量
                      </label>
                      <input
                        id={`qty-${l.sku}`}
                        class="qty-input"
                        type="number"
                        min="0"
                        max="999"
                        value={l.qty}
                        disabled={d.uncertain || Boolean(done)}
                        onChange={(e) =>
                          setQty(
                            l.sku,
                            Math.floor(Number((e.currentTarget as HTMLInputElement).value)) || 0,
                          )
                        }
                      />
                    </td>
                    <td>{(l.item?.points ?? 0) * l.qty}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <Empty>还没有商品。</Empty>
          )}
          {/* After a redemption the basket is empty and the success message gives the points
              taken and left; a "合计 0 分" line beside it would only confuse. */}
          {done ? null : (
            <p class="total" aria-live="polite">
              合计 <strong>{total}</strong> 分
              {card ? (
                card.spendable >= total ? (
                  `，兑换后剩 ${card.spendable - total} 分`
                ) : (
                  <span class="short">，积分不够：还差 {total - card.spendable} 分</span>
                )
              ) : (
                ''
              )}
            </p>
          )}
          {needPin && !done ? (
            <Field
              label="卡密码（持卡人输入后按回车）"
              name="pin"
              type="password"
              inputMode="numeric"
              value={pin}
              onValue={setPin}
              onEnter={() => void redeem()}
              inputRef={pinRef}
              autoComplete="off"
            />
          ) : null}
          {message ? <Alert kind={message.kind}>{message.text}</Alert> : null}
          {done ? (
            <div class="buttons">
              <button type="button" class="primary" ref={printRef} onClick={printReceipt}>
                打印小票
              </button>
              <button type="button" onClick={next}>
                下一位顾客（Esc）
              </button>
            </div>
          ) : d.uncertain ? (
            <div class="buttons">
              <button
                type="button"
                class="primary"
                ref={retryRef}
                onClick={() => void redeem()}
                aria-busy={busy}
              >
                {busy ? '正在重试…' : '重试（同一单，不会重复扣分）'}
              </button>
              <button type="button" class="danger" onClick={abandon}>
                放弃本单
              </button>
            </div>
          ) : (
            <>
              <button
                type="button"
                class="primary"
                ref={redeemRef}
                onClick={() => void redeem()}
                aria-busy={busy}
              >
                {busy ? '正在兑换…' : '确认兑换（Ctrl+回车）'}
              </button>
              <p class="hint">按 Esc 取消本单、换下一位顾客。</p>
            </>
          )}
        </Section>
      </div>
      {receipt ? (
        <pre class="receipt" aria-label="小票">
          {receipt}
        </pre>
      ) : null}
    </div>
  );
}

const REDEMPTION_STATUS: Record<string, string> = {
  confirmed: '已兑换',
  reversed: '已撤销',
  failed: '未成功',
  pending: '处理中',
};

function DayReport() {
  const [day, setDay] = useState(todayCst());
  const r = useLoad(() => get<Report>(`/v1/stores/${storeId()}/day-report`, { date: day }), [day]);
  return (
    <Section title="今日销售和库存" actions={<RefreshButton onClick={r.reload} />}>
      <Field label="日期" name="day" type="date" value={day} onValue={setDay} max={todayCst()} />
      <LoadStatus of={r} />
      {r.data ? (
        <>
          <dl class="balances">
            <div>
              <dt>兑换笔数</dt>
              <dd>{r.data.sales.count}</dd>
            </div>
            <div>
              <dt>兑出积分</dt>
              <dd>{r.data.sales.points}</dd>
            </div>
            <div>
              <dt>撤销 / 未成功</dt>
              <dd>
                {r.data.reversed.count} / {r.data.refused}
              </dd>
            </div>
          </dl>
          <table class="items">
            <caption>商品销量和现有库存</caption>
            <thead>
              <tr>
                <th scope="col">商品</th>
                <th scope="col">售出</th>
                <th scope="col">积分</th>
                <th scope="col">库存</th>
              </tr>
            </thead>
            <tbody>
              {r.data.items.map((i) => (
                <tr key={i.sku} class={i.stock <= 5 ? 'low' : ''}>
                  <td>{i.name}</td>
                  <td>{i.qtySold}</td>
                  <td>{i.pointsSold}</td>
                  <td>
                    {i.stock}
                    {i.stock <= 5 ? '（库存少）' : ''}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <h3>每一笔</h3>
          {r.data.redemptions.length ? (
            <ul class="entries">
              {r.data.redemptions.map((x) => (
                <li key={x.id}>
                  {beijing(x.time).slice(11)} 卡 {x.cardNo} {x.points} 分 ·{' '}
                  {REDEMPTION_STATUS[x.status] ?? x.status} · 小票 {x.receiptNo}
                </li>
              ))}
            </ul>
          ) : (
            <Empty>这一天还没有兑换。</Empty>
          )}
        </>
      ) : null}
    </Section>
  );
}
