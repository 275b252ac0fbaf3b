/**
 * Every refusal the service gives, by name: a problem's `reason` member (beside the contract's
 * `code`, which never changes) says which rule refused the request, so a client can branch on
 * it without reading prose. Domain code throws `new DomainError(reason, message)`; the code and
 * the HTTP status follow from this table. A reason named like its code is the code's only, or
 * general, case; `conflict` has no general case, so every 409 conflict names its rule.
 *
 * This table is the one list: /openapi.json shows it (the `reason` enum of the Problem schema
 * and its description) and README.md's "Refusals" section is generated from it
 * (`npm run docs:reasons`; a test fails when the two disagree). Keys never change once shipped.
 */
import type { ErrorCode } from './errors';

/** One refusal: its contract `code`, and what it means for a villager (zh) and a developer (en). */
export interface ReasonSpec {
  readonly code: ErrorCode;
  readonly zh: string;
  readonly en: string;
}

export const PROBLEM_REASONS = {
  // ── Requests ──────────────────────────────────────────────────────────────────────────────
  validation_failed: {
    code: 'validation_failed',
    zh: '请求内容不符合要求（见 errors）',
    en: 'The request is not valid; `errors` names each field.',
  },
  payload_too_large: {
    code: 'payload_too_large',
    zh: '请求体超过 1 MiB',
    en: 'The request body is larger than 1 MiB.',
  },
  request_timeout: {
    code: 'request_timeout',
    zh: '请求发送超时',
    en: 'The request was not received in time.',
  },
  unsupported_media_type: {
    code: 'unsupported_media_type',
    zh: '请求体的类型或编码不受支持',
    en: 'The body’s media type, charset or content-encoding is not supported.',
  },
  headers_too_large: {
    code: 'headers_too_large',
    zh: '请求头过大',
    en: 'The request header fields are too large.',
  },
  idempotency_key_reused: {
    code: 'idempotency_key_reused',
    zh: '同一幂等键已用于另一内容的请求',
    en: 'The Idempotency-Key was used for a different request body.',
  },
  rate_limited: {
    code: 'rate_limited',
    zh: '请求过于频繁，请稍后再试',
    en: 'Too many attempts; retry after Retry-After seconds.',
  },
  // ── Who is asking ─────────────────────────────────────────────────────────────────────────
  unauthenticated: {
    code: 'unauthenticated',
    zh: '未登录、令牌无效或账号已停用',
    en: 'No valid bearer token, or its account is gone, disabled or revoked.',
  },
  board_link_invalid: {
    code: 'unauthenticated',
    zh: '大屏链接无效或已被撤销，请村文书重新生成',
    en: 'The Board-Link header names no board link, or the link was revoked.',
  },
  forbidden: {
    code: 'forbidden',
    zh: '该角色无权进行此操作',
    en: 'This role, or this caller, may not do that.',
  },
  vote_on_own_household: {
    code: 'forbidden',
    zh: '评议会成员不能评议涉及本户的申报',
    en: 'A council member does not vote on a submission about their own household.',
  },
  consent_required: {
    code: 'consent_required',
    zh: '该户未向本合作社授权查询信用',
    en: 'The household has given this cooperative no valid consent.',
  },
  not_found: {
    code: 'not_found',
    zh: '记录不存在或不在您的范围内',
    en: 'No such record within the caller’s reach.',
  },
  // ── Registration ──────────────────────────────────────────────────────────────────────────
  village_code_taken: {
    code: 'conflict',
    zh: '村代码已被使用',
    en: 'A village with this code already exists.',
  },
  username_taken: {
    code: 'conflict',
    zh: '用户名已被使用',
    en: 'The username is taken.',
  },
  cannot_disable_self: {
    code: 'conflict',
    zh: '不能停用自己的账号',
    en: 'An admin cannot disable their own account.',
  },
  card_number_taken: {
    code: 'conflict',
    zh: '该卡号已登记给其他农户',
    en: 'The card number is already registered.',
  },
  volunteer_already_registered: {
    code: 'conflict',
    zh: '此人已登记为志愿者',
    en: 'This person (ID number) is already registered as a volunteer.',
  },
  already_team_member: {
    code: 'conflict',
    zh: '该志愿者已是队员',
    en: 'The volunteer is already a member of the team.',
  },
  not_team_member: {
    code: 'conflict',
    zh: '该志愿者不是队员',
    en: 'The volunteer is not a member of the team.',
  },
  // ── Council workflow ──────────────────────────────────────────────────────────────────────
  cap_reached: {
    code: 'cap_reached',
    zh: '该规则本月（本年）对该户的上限已用完',
    en: 'The rule’s monthly or yearly cap is used up for this household.',
  },
  submission_not_in_review: {
    code: 'conflict',
    zh: '申报不在评议中',
    en: 'The submission is not in review, so it takes no vote.',
  },
  vote_already_cast: {
    code: 'conflict',
    zh: '您在本轮评议中已投过票',
    en: 'This member already voted in this review round.',
  },
  review_round_changed: {
    code: 'conflict',
    zh: '投票时评议已进入新一轮，请重新投票',
    en: 'The review round changed while the vote was cast; vote again in the new round.',
  },
  submission_not_in_notice: {
    code: 'conflict',
    zh: '申报不在公示期内',
    en: 'The submission is not in its public notice.',
  },
  notice_closed: {
    code: 'conflict',
    zh: '本轮公示已结束',
    en: 'The public notice of this round has already closed.',
  },
  appeal_not_deduction: {
    code: 'conflict',
    zh: '只有扣分可以申诉',
    en: 'Only a deduction can be appealed.',
  },
  appeal_not_posted: {
    code: 'conflict',
    zh: '只有已入账的扣分可以申诉',
    en: 'Only a posted deduction can be appealed.',
  },
  appeal_window_closed: {
    code: 'conflict',
    zh: '申诉期（入账后30天）已过',
    en: 'The 30-day appeal window after posting has closed (`appealDeadline`).',
  },
  appeal_already_filed: {
    code: 'conflict',
    zh: '该扣分已申诉过',
    en: 'This deduction has already been appealed.',
  },
  appeal_already_decided: {
    code: 'conflict',
    zh: '该申诉已有结论',
    en: 'This appeal has already been decided.',
  },
  // ── Points supermarket ────────────────────────────────────────────────────────────────────
  insufficient_points: {
    code: 'insufficient_points',
    zh: '可用积分不足',
    en: 'The card’s spendable points do not cover the basket.',
  },
  out_of_stock: {
    code: 'out_of_stock',
    zh: '库存不足',
    en: 'Not enough stock of an item.',
  },
  daily_limit_exceeded: {
    code: 'daily_limit_exceeded',
    zh: '超过本店每日兑换上限',
    en: 'The store’s daily redemption limit for this card would be passed.',
  },
  pin_required: {
    code: 'pin_required',
    zh: '此卡设有密码，请持卡人输入',
    en: 'The card has a PIN; it must be entered.',
  },
  pin_incorrect: {
    code: 'pin_incorrect',
    zh: '密码不正确',
    en: 'The card PIN is not correct.',
  },
  card_locked: {
    code: 'card_locked',
    zh: '密码错误次数过多，卡已暂时锁定',
    en: 'Too many wrong PINs; the card is locked for a while.',
  },
  item_sku_taken: {
    code: 'conflict',
    zh: '本店已有该货号的商品',
    en: 'The store already has an item with this SKU.',
  },
  terminal_revoked: {
    code: 'conflict',
    zh: '该终端已注销，请重新登记',
    en: 'The terminal is revoked; register a new one.',
  },
  idempotency_key_in_flight: {
    code: 'conflict',
    zh: '同一幂等键的请求正在处理，请稍后重试',
    en: 'A request with this Idempotency-Key is still in progress; retry shortly.',
  },
  redemption_interrupted: {
    code: 'conflict',
    zh: '兑换中断并已取消，未扣积分，请重新提交',
    en: 'The redemption was interrupted and cancelled; nothing was spent. Send it again.',
  },
  redemption_in_progress: {
    code: 'conflict',
    zh: '该兑换仍在处理中',
    en: 'The redemption is still in progress.',
  },
  redemption_not_confirmed: {
    code: 'conflict',
    zh: '该兑换未成功，无可撤销或无凭条',
    en: 'The redemption did not go through: nothing to reverse, no receipt.',
  },
  reversal_window_closed: {
    code: 'reversal_window_closed',
    zh: '只能在兑换当天撤销',
    en: 'A redemption can be reversed only on its Asia/Shanghai day.',
  },
  flag_already_resolved: {
    code: 'conflict',
    zh: '该标记已处理',
    en: 'The flag has already been resolved.',
  },
  // ── Volunteer service ─────────────────────────────────────────────────────────────────────
  order_step_out_of_order: {
    code: 'conflict',
    zh: '服务单当前状态不允许此步骤',
    en: 'The service order is not in a state that takes this step (`status`).',
  },
  order_step_already_taken: {
    code: 'conflict',
    zh: '此步骤已由他人完成',
    en: 'Someone else took this step of the order first.',
  },
  order_escalated_meanwhile: {
    code: 'conflict',
    zh: '派单时服务单已上交实践所，请重新派单',
    en: 'The order escalated to the township while it was being dispatched; dispatch it again.',
  },
  order_already_rated: {
    code: 'conflict',
    zh: '该服务单已评价',
    en: 'The order has already been rated.',
  },
  // ── Credit and operations ─────────────────────────────────────────────────────────────────
  export_not_ready: {
    code: 'conflict',
    zh: '导出尚未完成，完成后才有文件和清单',
    en: 'The export is not done; its file and manifest exist once it is (`exportStatus`).',
  },
  job_not_failed: {
    code: 'conflict',
    zh: '该任务不处于失败状态',
    en: 'Only a failed job can be retried by hand.',
  },
  unavailable: {
    code: 'unavailable',
    zh: '服务暂时不可用或繁忙，请稍后重试',
    en: 'A dependency is down or a record is busy; retry shortly.',
  },
  internal_error: {
    code: 'internal_error',
    zh: '服务器内部错误，已记录',
    en: 'Something went wrong on the server; it has been logged.',
  },
} as const satisfies Record<string, ReasonSpec>;

export type ProblemReason = keyof typeof PROBLEM_REASONS;

/** Every reason, in table order. */
export const PROBLEM_REASON_KEYS = Object.keys(PROBLEM_REASONS) as [
  ProblemReason,
  ...ProblemReason[],
];

export function isProblemReason(value: unknown): value is ProblemReason {
  return typeof value === 'string' && Object.hasOwn(PROBLEM_REASONS, value);
}
