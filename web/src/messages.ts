/**
 * What the pages say when something is refused: every message in Chinese, naming the field and
 * saying what to do. Error codes come from the API's problem+json; field paths from `errors[]`.
 */
import { ApiError, NetworkError, type FieldError } from './api';

const CODES: Record<string, string> = {
  unauthenticated: '登录已过期或账号无效，请重新登录。',
  forbidden: '您的账号没有做这件事的权限。如需办理，请联系村文书或县中心。',
  not_found: '找不到这条记录，或它不在您的管辖范围内。请核对后再试。',
  conflict: '这条记录刚刚被别人改动过，或当前状态不允许这样做。请刷新后再试。',
  vote_already_cast: '您在本轮评议中已经投过票了。',
  cap_reached: '该农户本项积分已达到上限，无法再申报。',
  consent_required: '该农户尚未授权本信用社查询（或授权已撤回、已过期）。请先请农户授权。',
  rate_limited: '操作太频繁，请稍等一分钟再试。',
  unavailable: '服务暂时不可用，请稍后再试。',
  internal_error: '系统出错了，已记录。请稍后再试，或联系县中心。',
  payload_too_large: '上传的内容太大，请压缩照片后再试。',
  idempotency_key_reused: '本单内容已改变，请按“新的一单”重新开始。',
  insufficient_points: '积分不足，请减少商品后重新结算。',
  out_of_stock: '库存不足，请减少数量。',
  daily_limit_exceeded: '超过本村规定的每日兑换上限。',
  card_locked: '此卡因连续输错密码已被锁定，请稍后再试。',
  pin_required: '此卡设有密码，请持卡人输入密码。',
  pin_incorrect: '密码错误，请重新输入。',
  reversal_window_closed: '只能撤销当天的兑换。',
};

/** Server messages (English) turned into what to do, in Chinese. */
const MESSAGES: [RegExp, string][] = [
  [/^required/i, '必须填写'],
  [/string must contain at least 1|too_small|at least 1 character/i, '不能为空'],
  [/must not be in the future/i, '不能晚于今天，请改为事情发生的日期'],
  [/not a household of this village/i, '不是本村的农户，请重新选择'],
  [/no such rule/i, '没有这条积分细则，请从列表中选择'],
  [/not in force/i, '该细则在这一天不适用，请换一条或改日期'],
  [/requires at least one attachment/i, '这条细则需要上传证明照片'],
  [/gives no points/i, '按这条细则计不到分，请检查数量'],
  [/fixed points/i, '这条细则是固定分值，请不要填数量'],
  [/how many/i, '请填写数量（如服务小时数）'],
  [/4–32 letters, digits or -/i, '应为 4–32 位字母、数字或“-”'],
  [/already registered|is taken/i, '已被使用，请换一个'],
  [/at least 10 characters/i, '至少 10 个字符'],
  [/3–64 letters/i, '应为 3–64 位字母、数字或 _ . @ -'],
  [/must be in the future/i, '必须是将来的日期'],
  [/at most \d+ years/i, '最长 5 年，请改短一些'],
  [/ISO-8601 duration/i, '应写成如 P7D（7天）、PT10M（10分钟）、PT0S（不公示）'],
  [/must be an id/i, '请从列表中选择'],
  [/a date/i, '应为日期，如 2026-03-01'],
  [/one line/i, '只能写一行'],
  [/must be one of|invalid enum/i, '请从列表中选择'],
  [/expected number|invalid_type/i, '请填写数字'],
  [/greater than|too_big|less than or equal|at most/i, '数值超出允许范围'],
];

export function fieldMessage(message: string): string {
  for (const [re, zh] of MESSAGES) if (re.test(message)) return zh;
  return '格式不正确，请检查';
}

/** The field name a path refers to, from the form's labels (`evidence.text` → 证明材料). */
export function fieldLabel(path: string, labels: Record<string, string>): string {
  const clean = path.replace(/^(query|params|body)\./, '');
  if (labels[clean]) return labels[clean]!;
  const last = clean.split('.').pop() ?? clean;
  return labels[last] ?? clean;
}

export function describeFieldErrors(
  errors: FieldError[],
  labels: Record<string, string>,
): string[] {
  return errors.map((e) => `“${fieldLabel(e.path, labels)}”${fieldMessage(e.message)}。`);
}

/** One sentence for an error, with field errors spelled out when the API named fields. */
export function describeError(err: unknown, labels: Record<string, string> = {}): string {
  if (err instanceof NetworkError) return '网络中断，没有收到服务器的回答。请检查网络后重试。';
  if (err instanceof ApiError) {
    if (err.code === 'validation_failed' && err.errors.length)
      return describeFieldErrors(err.errors, labels).join(' ');
    if (err.code === 'validation_failed') return '填写的内容不符合要求，请检查后重试。';
    return CODES[err.code] ?? `操作未成功（${err.code}），请稍后重试。`;
  }
  return '出了点问题，请刷新页面后重试。';
}

export const ROLE_NAMES: Record<string, string> = {
  admin: '县中心管理员',
  clerk: '村文书',
  council: '道德评议会成员',
  terminal: '公益超市收银台',
  officer: '信用社信贷员',
  household: '农户',
  township: '乡镇实践所',
  supervisor: '监督运营员',
};

export const STATUS_NAMES: Record<string, string> = {
  in_review: '评议中',
  in_notice: '公示中',
  posted: '已入账',
  rejected: '未通过',
};

export const ENTRY_TYPES: Record<string, string> = {
  award: '加分',
  deduction: '扣分',
  redemption: '兑换',
  reversal: '撤销兑换',
  adjustment: '调整',
  expiry: '过期',
};
