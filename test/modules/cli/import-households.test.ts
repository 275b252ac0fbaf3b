import { Household } from '../../../src/modules/households/households.model';
import { decodeCsvFile } from '../../../src/modules/households/roster.file';
import {
  importHouseholdsCsv,
  type ImportReport,
} from '../../../src/modules/households/roster.service';
import { expect } from '../../support/expect';
import { makeHousehold, makeVillage, unique } from '../../support/factories';
import { countAll, expectNothingStored } from '../../support/snapshot';

/** Card numbers of this test: unique across the run, valid by CARD_NO_RE. */
const cardPrefix = () =>
  unique('T')
    .replace(/[^A-Za-z0-9]/g, '')
    .slice(-10);

const badLines = (r: ImportReport) =>
  r.outcomes.filter((o) => o.status === 'bad').map((o) => [o.line, o.reason]);

describe('CLI import-households', () => {
  it('imports every good row and reports each bad row with its line number and reason', async () => {
    const v = await makeVillage({ name: unique('村') });
    const p = cardPrefix();
    const csv = [
      '户主,家庭成员,卡号,村',
      `王建国,李秀英、王子涵 王浩然,${p}-01,${v.code}`,
      `,李四,${p}-02,${v.code}`, // line 3: no head
      `张三,,AB 12,${v.code}`, // line 4: bad card number
      `李志强,张桂兰;李欣怡,${p}-04,没有这个村`, // line 5: unknown village
      `赵六,,,${v.code}`, // line 6: no card
      `陈永强,,${p}-06,${v.name}`, // line 7: village by name
      `刘海军,陈春梅,${p}-07,${v.code},多出来的列`, // line 8: an unquoted comma shifted the cells
    ].join('\n');
    const report = await importHouseholdsCsv(csv);
    expect(report.fileError).to.equal(undefined);
    expect(badLines(report)).to.deep.equal([
      [3, 'missing_head'],
      [4, 'bad_card_number'],
      [5, 'unknown_village'],
      [6, 'missing_card'],
      [8, 'too_many_fields'],
    ]);
    expect(report).to.include({ created: 2, skipped: 0, bad: 5 });
    for (const o of report.outcomes.filter((x) => x.status === 'bad'))
      expect(o.message).to.match(/[\u4e00-\u9fff]/);

    const stored = await Household.find({ cardNo: { $in: [`${p}-01`, `${p}-06`] } })
      .sort({ cardNo: 1 })
      .lean();
    expect(stored.map((h) => [h.head, h.villageId, h.members.map((m) => m.name)])).to.deep.equal([
      ['王建国', v.id, ['李秀英', '王子涵', '王浩然']],
      ['陈永强', v.id, []],
    ]);
    expect(await Household.countDocuments({ cardNo: { $regex: `^${p}` } })).to.equal(2);
  });

  it('importing the same file twice creates nothing new and reports the rows as already registered', async () => {
    const v = await makeVillage();
    const p = cardPrefix();
    const csv = `户主,家庭成员,卡号,村\n王一,,${p}-01,${v.code}\n王二,,${p}-02,${v.code}\n王三,,bad!,${v.code}\n`;
    const first = await importHouseholdsCsv(csv);
    expect(first).to.include({ created: 2, skipped: 0, bad: 1 });
    const before = await countAll();
    const second = await importHouseholdsCsv(csv);
    expect(second).to.include({ created: 0, skipped: 2, bad: 1 });
    expect(
      second.outcomes.filter((o) => o.status === 'skipped').map((o) => [o.line, o.reason]),
    ).to.deep.equal([
      [2, 'already_registered'],
      [3, 'already_registered'],
    ]);
    await expectNothingStored(before, 'second import');
  });

  it('the same file imported by five processes at once creates each household once', async () => {
    const v = await makeVillage();
    const p = cardPrefix();
    const rows = Array.from(
      { length: 30 },
      (_, i) => `户主${i},,${p}-${String(i).padStart(2, '0')},${v.code}`,
    );
    const csv = ['户主,家庭成员,卡号,村', ...rows].join('\n');
    const reports = await Promise.all(Array.from({ length: 5 }, () => importHouseholdsCsv(csv)));
    expect(reports.reduce((n, r) => n + r.created, 0)).to.equal(30);
    expect(reports.reduce((n, r) => n + r.skipped, 0)).to.equal(4 * 30);
    expect(reports.every((r) => r.bad === 0)).to.equal(true);
    expect(await Household.countDocuments({ villageId: v.id })).to.equal(30);
  });

  it('reads a UTF-8 file with a BOM, quoted commas and line breaks inside cells, and CRLF line ends', async () => {
    const v = await makeVillage();
    const p = cardPrefix();
    const text = [
      '户主,家庭成员,卡号,村',
      `杨文斌,"马红霞, 杨博文，杨诗琪",${p}-01,${v.code}`,
      `"赵晓东","孙丽娟\n赵宇航",${p}-02,${v.code}`, // a cell spanning two lines (lines 3–4)
      `马振华,,bad card,${v.code}`, // line 5
    ].join('\r\n');
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')]);
    const report = await importHouseholdsCsv(decodeCsvFile(bytes));
    expect(report.fileError).to.equal(undefined);
    expect(report).to.include({ created: 2, bad: 1 });
    expect(badLines(report)).to.deep.equal([[5, 'bad_card_number']]);
    const h1 = await Household.findOne({ cardNo: `${p}-01` }).lean();
    expect(h1!.head).to.equal('杨文斌');
    expect(h1!.members.map((m) => m.name)).to.deep.equal(['马红霞', '杨博文', '杨诗琪']);
    const h2 = await Household.findOne({ cardNo: `${p}-02` }).lean();
    expect(h2!.members.map((m) => m.name)).to.deep.equal(['孙丽娟', '赵宇航']);
  });

  it('accepts header aliases, ignores unknown columns and Excel’s empty rows, and reads full-width card numbers', async () => {
    const v = await makeVillage();
    const p = cardPrefix();
    const fullWidth = `${p}-01`.replace(/[A-Za-z0-9-]/g, (c) =>
      c === '-' ? '－' : String.fromCharCode(c.charCodeAt(0) + 0xfee0),
    );
    const csv = `序号,户主姓名*,成员,积分卡号,所属村,备注\n1,王五,,${fullWidth},${v.code},\n,,,,,\n2,王六,,${p}-02,${v.code},新户\n`;
    const report = await importHouseholdsCsv(csv);
    expect(report).to.include({ created: 2, bad: 0 });
    expect(report.ignoredColumns).to.deep.equal(['序号', '备注']);
    expect(await Household.exists({ cardNo: `${p}-01` })).to.not.equal(null);
  });

  it('a card twice in the file with different contents imports neither; an identical repeated line imports once', async () => {
    const v = await makeVillage();
    const p = cardPrefix();
    const csv = [
      '户主,家庭成员,卡号,村',
      `张一,,${p}-01,${v.code}`,
      `张二,,${p}-01,${v.code}`, // same card, another family: one of them is a typo
      `李一,李二,${p}-02,${v.code}`,
      `李一,李二,${p}-02,${v.code}`, // the same line pasted twice
    ].join('\n');
    const report = await importHouseholdsCsv(csv);
    expect(badLines(report)).to.deep.equal([
      [2, 'duplicate_in_file'],
      [3, 'duplicate_in_file'],
      [5, 'duplicate_in_file'],
    ]);
    expect(report.created).to.equal(1);
    expect(await Household.exists({ cardNo: `${p}-01` })).to.equal(null);
    expect(await Household.countDocuments({ cardNo: `${p}-02` })).to.equal(1);
  });

  it('a card already registered to another household is a bad row and that household is unchanged', async () => {
    const v = await makeVillage();
    const other = await makeVillage();
    const p = cardPrefix();
    const existing = await makeHousehold(other.id, { head: '原户主', cardNo: `${p}-01` });
    const report = await importHouseholdsCsv(`户主,家庭成员,卡号,村\n新户主,,${p}-01,${v.code}\n`);
    expect(badLines(report)).to.deep.equal([[2, 'card_taken']]);
    const after = await Household.findOne({ cardNo: `${p}-01` }).lean();
    expect([after!._id.toHexString(), after!.head, after!.villageId]).to.deep.equal([
      existing.id,
      '原户主',
      other.id,
    ]);
  });

  it('--village fills empty 村 cells, refuses rows naming another village, and is required without a 村 column', async () => {
    const v = await makeVillage({ name: unique('村') });
    const other = await makeVillage({ name: unique('村') });
    const p = cardPrefix();
    const csv = `户主,家庭成员,卡号,村\n甲,,${p}-01,\n乙,,${p}-02,${v.name}\n丙,,${p}-03,${other.code}\n`;
    const report = await importHouseholdsCsv(csv, { village: v.code });
    expect(badLines(report)).to.deep.equal([[4, 'village_mismatch']]);
    expect(await Household.countDocuments({ villageId: v.id })).to.equal(2);

    const before = await countAll();
    const noColumn = await importHouseholdsCsv(`户主,卡号\n丁,${p}-04\n`);
    expect(noColumn.fileError?.code).to.equal('missing_column');
    const unknown = await importHouseholdsCsv(`户主,卡号\n丁,${p}-04\n`, {
      village: 'NO-SUCH-VILLAGE',
    });
    expect(unknown.fileError?.code).to.equal('unknown_village');
    await expectNothingStored(before, 'refused files');
    const withFlag = await importHouseholdsCsv(`户主,卡号\n丁,${p}-04\n`, { village: v.code });
    expect(withFlag).to.include({ created: 1, bad: 0 });
  });

  it('a village name shared by two villages is ambiguous: the row must use the code', async () => {
    const name = unique('同名村');
    const a = await makeVillage({ name });
    await makeVillage({ name });
    const p = cardPrefix();
    const report = await importHouseholdsCsv(
      `户主,家庭成员,卡号,村\n甲,,${p}-01,${name}\n乙,,${p}-02,${a.code}\n`,
    );
    expect(badLines(report)).to.deep.equal([[2, 'ambiguous_village']]);
    expect(report.created).to.equal(1);
  });

  it('refuses names the API would refuse (too long, NUL characters, too many members) and stores nothing for them', async () => {
    const v = await makeVillage();
    const p = cardPrefix();
    const tooMany = Array.from({ length: 31 }, (_, i) => `成员${i}`).join('、');
    const csv = [
      '户主,家庭成员,卡号,村',
      `${'长'.repeat(33)},,${p}-01,${v.code}`,
      `王\u0000五,,${p}-02,${v.code}`,
      `王六,${tooMany},${p}-03,${v.code}`,
      `王七,${'长'.repeat(33)},${p}-04,${v.code}`,
      `王八,,${'9'.repeat(33)},${v.code}`,
    ].join('\n');
    const before = await countAll();
    const report = await importHouseholdsCsv(csv);
    expect(badLines(report)).to.deep.equal([
      [2, 'bad_head'],
      [3, 'bad_head'],
      [4, 'bad_members'],
      [5, 'bad_members'],
      [6, 'bad_card_number'],
    ]);
    await expectNothingStored(before, 'refused rows');
  });

  it('applies the API’s text policy to every row: bidi overrides, control and zero-width characters are bad rows with their line; names are stored NFC', async () => {
    const v = await makeVillage();
    const p = cardPrefix();
    const csv = [
      '户主,家庭成员,卡号,村',
      `张\u202e三,,${p}-01,${v.code}`, // line 2: right-to-left override
      `李\u0007四,,${p}-02,${v.code}`, // line 3: bell
      `王\u001b[31m五,,${p}-03,${v.code}`, // line 4: terminal escape
      `赵六,孙\u200b七,${p}-04,${v.code}`, // line 5: zero-width space in a member
      `周\u2066八\u2069,,${p}-05,${v.code}`, // line 6: bidi isolate
      `Jose\u0301,Zoe\u0308,${p}-06,${v.code}`, // line 7: decomposed accents, fine
    ].join('\n');
    const before = await countAll();
    const report = await importHouseholdsCsv(csv);
    expect(badLines(report)).to.deep.equal([
      [2, 'bad_head'],
      [3, 'bad_head'],
      [4, 'bad_head'],
      [5, 'bad_members'],
      [6, 'bad_head'],
    ]);
    const messages = report.outcomes.filter((o) => o.status === 'bad').map((o) => o.message!);
    expect(messages[0]).to.contain('方向').and.contain('\\u{202E}');
    expect(messages[1]).to.contain('控制字符');
    expect(messages[3]).to.contain('零宽');
    for (const m of messages) expect(m).to.not.match(/[\p{Cc}\u202a-\u202e\u2066-\u2069\u200b]/u);
    expect(report.created).to.equal(1);
    const stored = await Household.findOne({ cardNo: `${p}-06` }).lean();
    expect([stored!.head, stored!.members[0]!.name]).to.deep.equal(['Jos\u00e9', 'Zo\u00eb']);
    expect((await countAll()).households).to.equal((before.households ?? 0) + 1);
  });

  it('refuses files that are not UTF-8, have broken quoting, no header or a header without 户主 or 卡号; nothing is stored', async () => {
    // "户主,卡号" as Chinese Excel saves plain CSV: GBK.
    const gbk = Buffer.from([0xbb, 0xa7, 0xd6, 0xf7, 0x2c, 0xbf, 0xa8, 0xba, 0xc5, 0x0a]);
    expect(() => decodeCsvFile(gbk))
      .to.throw()
      .with.property('code', 'not_utf8');
    expect(() => decodeCsvFile(Buffer.from('\ufeff户主', 'utf16le')))
      .to.throw()
      .with.property('code', 'not_utf8');
    const v = await makeVillage();
    const after = await countAll();
    const cases: [string, string, number?][] = [
      [`户主,家庭成员,卡号,村\n王五,"李四,T-0001,${v.code}\n`, 'csv_syntax'],
      ['', 'empty_file'],
      ['\n\n', 'empty_file'],
      [`姓名,卡号,村\n王五,T-0002,${v.code}\n`, 'missing_column', 1],
      [`户主,家庭成员,村\n王五,,${v.code}\n`, 'missing_column', 1],
      [`户主,户主姓名,卡号,村\n王五,王五,T-0003,${v.code}\n`, 'duplicate_column', 1],
    ];
    for (const [csv, code, line] of cases) {
      const report = await importHouseholdsCsv(csv);
      expect(report.fileError?.code, JSON.stringify(csv)).to.equal(code);
      if (line) expect(report.fileError?.line).to.equal(line);
      expect(report.created).to.equal(0);
    }
    await expectNothingStored(after, 'refused files');
  });

  it('a dry run reports what would happen and writes nothing', async () => {
    const v = await makeVillage();
    const p = cardPrefix();
    await makeHousehold(v.id, { head: '已有', cardNo: `${p}-01` });
    const before = await countAll();
    const report = await importHouseholdsCsv(
      `户主,家庭成员,卡号,村\n已有,,${p}-01,${v.code}\n新户,,${p}-02,${v.code}\n坏行,,x,${v.code}\n`,
      { dryRun: true },
    );
    expect(report.outcomes.map((o) => [o.line, o.status])).to.deep.equal([
      [2, 'skipped'],
      [3, 'would_create'],
      [4, 'bad'],
    ]);
    expect(report).to.include({ dryRun: true, created: 1, skipped: 1, bad: 1 });
    await expectNothingStored(before, 'dry run');
  });
});
