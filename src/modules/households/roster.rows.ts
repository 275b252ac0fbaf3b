/**
 * One roster row checked on its own (roster.service.ts holds the invariants): its cells, its
 * village, and last the same schema as `POST /v1/households`, so the import stores nothing the
 * API would refuse and stores the same normalised values. A bad row comes back as an outcome with
 * a stable reason code and a Chinese message; it never stops the other rows.
 */
import { checkText } from '../../platform/text';
import type { VillageDoc } from '../villages/villages.model';
import {
  CARD_NO_RE,
  createHouseholdBody,
  MEMBERS_MAX,
  PERSON_NAME_MAX,
} from './households.schemas';
import type { Field, ParsedRow } from './roster.file';

/** Separators between member names in one cell: 、 , ， ; ； and any whitespace (incl. U+3000). */
const MEMBER_SEPARATORS = /[、,，;；\s]+/u;

export type RowReason =
  | 'missing_head'
  | 'bad_head'
  | 'missing_card'
  | 'bad_card_number'
  | 'bad_members'
  | 'missing_village'
  | 'unknown_village'
  | 'ambiguous_village'
  | 'village_mismatch'
  | 'too_many_fields'
  | 'duplicate_in_file'
  | 'card_taken'
  | 'already_registered';

export interface RowOutcome {
  /** File line the row starts on (1 = the header line when the file starts with it). */
  line: number;
  status: 'created' | 'would_create' | 'skipped' | 'bad';
  cardNo?: string;
  householdId?: string;
  /** Set for `skipped` and `bad`. */
  reason?: RowReason;
  /** Chinese explanation for the person fixing the spreadsheet. */
  message?: string;
}

export interface GoodRow {
  index: number;
  line: number;
  villageId: string;
  head: string;
  members: { name: string }[];
  cardNo: string;
}

export const bad = (
  line: number,
  reason: RowReason,
  message: string,
  cardNo?: string,
): RowOutcome => ({
  line,
  status: 'bad',
  reason,
  message,
  ...(cardNo ? { cardNo } : {}),
});

/** Where a row's fields are: the column of each field, and the header's width. */
export interface RowColumns {
  columns: Partial<Record<Field, number>>;
  headerWidth: number;
}

/** A row's cells as read, before the village and the API's schema are applied. */
interface RowCells {
  head: string;
  cardNo: string;
  names: string[];
  villageCell: string;
}

/** The row's own cells: column count, head, card number and the number of members. */
function checkCells(row: ParsedRow, at: RowColumns): RowOutcome | RowCells {
  const { line, cells } = row;
  const { columns, headerWidth } = at;
  const cell = (f: Field) => (columns[f] === undefined ? '' : (cells[columns[f]] ?? '').trim());
  // Full-width letters, digits and dashes (ＤＭ－０００１) are common in Chinese spreadsheets.
  const cardNo = cell('cardNo').normalize('NFKC').trim();
  const card = cardNo || undefined;

  if (cells.length > headerWidth && cells.slice(headerWidth).some((c) => c.trim() !== '')) {
    return bad(
      line,
      'too_many_fields',
      `本行有 ${cells.length} 列，表头只有 ${headerWidth} 列：单元格里的逗号要用英文双引号把整个单元格括起来。`,
      card,
    );
  }
  const head = cell('head');
  if (!head) return bad(line, 'missing_head', '缺少户主姓名。', card);
  if (!cardNo) return bad(line, 'missing_card', '缺少卡号。');
  if (!CARD_NO_RE.test(cardNo))
    return bad(
      line,
      'bad_card_number',
      `卡号“${cardNo}”格式不正确：应为 4–32 位字母、数字或“-”。`,
      cardNo,
    );
  const names = cell('members').split(MEMBER_SEPARATORS).filter(Boolean);
  if (names.length > MEMBERS_MAX)
    return bad(
      line,
      'bad_members',
      `家庭成员最多 ${MEMBERS_MAX} 人，本行有 ${names.length} 人。`,
      cardNo,
    );
  return { head, cardNo, names, villageCell: cell('village') };
}

/** Villages of the file: the --village default, and a cached look-up by code or name. */
export interface RowVillages {
  defaultVillage: VillageDoc | undefined;
  resolveVillage: (v: string) => Promise<VillageDoc[]>;
}

/** The row's village: its 村 cell (which must agree with --village), else the default. */
async function rowVillage(
  line: number,
  { villageCell, cardNo }: RowCells,
  { defaultVillage, resolveVillage }: RowVillages,
): Promise<RowOutcome | VillageDoc> {
  let village = defaultVillage;
  if (villageCell) {
    const found = await resolveVillage(villageCell);
    const isDefault = (v: VillageDoc) =>
      defaultVillage !== undefined && v._id.equals(defaultVillage._id);
    if (found.length === 0)
      return bad(line, 'unknown_village', `找不到村“${villageCell}”（可填村名或村代码）。`, cardNo);
    if (defaultVillage) {
      if (!found.some(isDefault)) {
        return bad(
          line,
          'village_mismatch',
          `村“${villageCell}”与 --village 指定的村（${defaultVillage.name}）不一致。`,
          cardNo,
        );
      }
    } else if (found.length > 1) {
      return bad(line, 'ambiguous_village', `有多个村叫“${villageCell}”：请填村代码。`, cardNo);
    } else {
      village = found[0];
    }
  }
  if (!village)
    return bad(line, 'missing_village', '缺少村：请填写“村”列，或用 --village 指定。', cardNo);
  return village;
}

/**
 * The API's own schema has the last word, so the CLI never stores what the API would refuse;
 * what is stored is what the API would store: the schema's normalised (NFC, trimmed) values.
 */
function checkWithSchema(
  line: number,
  village: VillageDoc,
  { head, cardNo, names }: RowCells,
): RowOutcome | Omit<GoodRow, 'index'> {
  const candidate = {
    villageId: village._id.toHexString(),
    head,
    members: names.map((name) => ({ name })),
    cardNo,
  };
  const checked = createHouseholdBody.safeParse(candidate);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    const field = String(issue?.path[0] ?? '');
    if (field === 'head')
      return bad(
        line,
        'bad_head',
        `户主姓名“${printable(head)}”不合规：${whyZh(head, 'name', PERSON_NAME_MAX)}。`,
        cardNo,
      );
    if (field === 'members') {
      const i = Number(issue?.path[1] ?? 0);
      const member = names[i] ?? '';
      return bad(
        line,
        'bad_members',
        `家庭成员“${printable(member)}”的姓名不合规：${whyZh(member, 'name', PERSON_NAME_MAX)}。`,
        cardNo,
      );
    }
    return bad(line, 'bad_card_number', `卡号“${printable(cardNo)}”格式不正确。`, cardNo);
  }
  const data = checked.data;
  return {
    line,
    villageId: data.villageId,
    head: data.head,
    members: data.members ?? [],
    cardNo: data.cardNo,
  };
}

/** Checks one row on its own: a bad outcome, or the values to store. */
export async function checkRow(
  row: ParsedRow,
  at: RowColumns,
  villages: RowVillages,
): Promise<RowOutcome | Omit<GoodRow, 'index'>> {
  const cells = checkCells(row, at);
  if ('status' in cells) return cells;
  const village = await rowVillage(row.line, cells, villages);
  if ('status' in village) return village;
  return checkWithSchema(row.line, village, cells);
}

/** Why a name breaks the text policy, in Chinese for the clerk fixing the spreadsheet. */
function whyZh(value: string, kind: 'name', max: number): string {
  const r = checkText(value, { kind, max });
  return 'problem' in r ? r.problem.messageZh : '格式不正确';
}

/** A cell shown in a message: invisible and control characters as \u{…}, so the clerk can find them. */
function printable(value: string): string {
  return value.replace(
    /[\p{Cc}\p{Cf}\p{Cs}\u2028\u2029]/gu,
    (ch) => `\\u{${ch.codePointAt(0)!.toString(16).toUpperCase()}}`,
  );
}
