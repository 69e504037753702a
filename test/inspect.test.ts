import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createInspector, mask, pseudonymize, restore, createRestorer, isValidMyNumber, isValidCorporateNumber, isValidDriversLicense, InspectorConfigError, normalize } from '../src/inspect/index.js';

const insp = createInspector();
const found = (text: string, type?: string) =>
  insp.inspect(text).findings.filter((f) => !type || f.type === type).map((f) => ({ type: f.type, value: text.slice(f.start, f.end) }));
const values = (text: string, type: string) => found(text, type).map((f) => f.value);

test('My Number: valid check digit reported, invalid not', () => {
  assert.equal(isValidMyNumber('123456789018'), true);
  assert.equal(isValidMyNumber('123456789012'), false);
  assert.deepEqual(values('マイナンバーは123456789018です', 'JP_MY_NUMBER'), ['123456789018']);
  assert.deepEqual(values('マイナンバーは123456789012です', 'JP_MY_NUMBER'), []);
  assert.deepEqual(values('個人番号：1234 5678 9018', 'JP_MY_NUMBER'), ['1234 5678 9018']);
  assert.deepEqual(values('個人番号 1234-5678-9018 を提出', 'JP_MY_NUMBER'), ['1234-5678-9018']);
  const r = insp.inspect('マイナンバー 123456789018');
  assert.equal(r.level, 'L3');
  assert.ok(r.flags.includes('my_number'));
});

test('corporate number: leading check digit', () => {
  assert.equal(isValidCorporateNumber('7000012050002'), true);
  assert.equal(isValidCorporateNumber('8000012050002'), false);
  assert.deepEqual(values('法人番号 7000012050002', 'JP_CORPORATE_NUMBER'), ['7000012050002']);
  assert.deepEqual(values('法人番号 8000012050002', 'JP_CORPORATE_NUMBER'), []);
});

test('phones in many forms', () => {
  for (const p of ['090-1234-5678', '03-1234-5678', '0120-123-456', '+81-90-1234-5678', '+81 3 1234 5678', '06(6123)4567', '(03) 1234-5678', '050-1234-5678', '0800-123-4567', '080 1234 5678', '+81 (0)6-6123-4567']) {
    assert.deepEqual(values(`電話 ${p} まで`, 'JP_PHONE'), [p], p);
  }
  assert.deepEqual(values('携帯09012345678です', 'JP_PHONE'), ['09012345678']);
  assert.deepEqual(values('TEL03-1234-5678', 'JP_PHONE'), ['03-1234-5678']);
});

test('phone-like numbers in non-phone context are not phones', () => {
  assert.deepEqual(values('注文番号 0312345678 の商品', 'JP_PHONE'), []);
  assert.deepEqual(values('INV-03-1234-5678', 'JP_PHONE'), []);
  assert.deepEqual(values('version 1.2.3.4', 'IP_ADDRESS'), []);
  assert.deepEqual(found('request 550e8400-e29b-41d4-a716-446655440000'), []);
  assert.deepEqual(found('commit 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b'), []);
  assert.deepEqual(found('2024-01-15 14:30 ¥12,800'), []);
});

test('full-width digits, dash variants and spaces: offsets into the ORIGINAL string', () => {
  const t = '電話は０９０ー１２３４ー５６７８です';
  const f = insp.inspect(t).findings.find((x) => x.type === 'JP_PHONE')!;
  assert.equal(t.slice(f.start, f.end), '０９０ー１２３４ー５６７８');
  for (const dash of ['‐', '-', '–', '—', '−', '－']) {
    const s = `😀TEL 03${dash}1234${dash}5678`;
    const g = insp.inspect(s).findings.find((x) => x.type === 'JP_PHONE');
    assert.ok(g, dash);
    assert.equal(s.slice(g.start, g.end), `03${dash}1234${dash}5678`);
  }
  assert.equal(normalize('ＡＢＣ１２３').length, 'ＡＢＣ１２３'.length);
  assert.equal(normalize('ＡＢＣ１２３'), 'ABC123');
  const m = 'ﾏｲﾅﾝﾊﾞｰ １２３４ ５６７８ ９０１８';
  assert.deepEqual(values(m, 'JP_MY_NUMBER'), ['１２３４ ５６７８ ９０１８']);
});

test('postal codes and addresses with kanji numerals', () => {
  assert.deepEqual(values('〒100-0001 東京都千代田区千代田1-1', 'JP_POSTAL_CODE'), ['100-0001']);
  assert.deepEqual(values('住所は大阪府大阪市北区梅田三丁目1番3号です。', 'JP_ADDRESS'), ['大阪府大阪市北区梅田三丁目1番3号']);
  assert.deepEqual(values('東京都港区六本木六丁目十番一号', 'JP_ADDRESS'), ['東京都港区六本木六丁目十番一号']);
  assert.deepEqual(values('横浜市中区山下町1-2-3に移転', 'JP_ADDRESS'), ['横浜市中区山下町1-2-3']);
  assert.deepEqual(values('北海道札幌市中央区北1条西2丁目', 'JP_ADDRESS'), ['北海道札幌市中央区北1条西2丁目']);
  assert.deepEqual(values('京都府宇治市宇治１７番地１', 'JP_ADDRESS'), ['京都府宇治市宇治１７番地１']);
  assert.deepEqual(values('東京都の人口は約1400万人です。', 'JP_ADDRESS'), []);
});

test('names with and without honorifics, and decoys', () => {
  assert.deepEqual(values('山田太郎様の件', 'PERSON_NAME'), ['山田太郎']);
  assert.deepEqual(values('山田 太郎 様', 'PERSON_NAME'), ['山田 太郎']);
  assert.deepEqual(values('田中さんと森さん', 'PERSON_NAME'), ['田中', '森']);
  assert.deepEqual(values('高橋先生に相談', 'PERSON_NAME'), ['高橋']);
  assert.deepEqual(values('氏名：鈴木一郎', 'PERSON_NAME'), ['鈴木一郎']);
  assert.deepEqual(values('担当 佐藤', 'PERSON_NAME'), ['佐藤']);
  assert.deepEqual(values('私は佐々木と申します。', 'PERSON_NAME'), ['佐々木']);
  assert.deepEqual(values('フリガナ：ヤマダ タロウ', 'PERSON_NAME'), ['ヤマダ タロウ']);
  assert.deepEqual(values('ジョン・スミスさんが来日', 'PERSON_NAME'), ['ジョン・スミス']);
  // decoys: the bridge, the forest, polite words
  assert.deepEqual(values('高橋を渡って森へ行く。', 'PERSON_NAME'), []);
  assert.deepEqual(values('森の中の小さな橋', 'PERSON_NAME'), []);
  assert.deepEqual(values('お客様各位、皆様、お疲れ様です。ご苦労様でした。', 'PERSON_NAME'), []);
  assert.deepEqual(values('同様に、仕様と模様を確認', 'PERSON_NAME'), []);
});

test('hiragana given names and self-introductions', () => {
  assert.deepEqual(values('伊藤さくら様へ', 'PERSON_NAME'), ['伊藤さくら']);
  assert.deepEqual(values('担当: 伊藤 さくら', 'PERSON_NAME'), ['伊藤 さくら']);
  assert.deepEqual(values('伊藤さくらです。', 'PERSON_NAME'), ['伊藤さくら']);
  assert.deepEqual(values('株式会社サンプルの佐藤です。', 'PERSON_NAME'), ['佐藤']);
  assert.deepEqual(values('お世話になっております。営業部の高橋でございます。', 'PERSON_NAME'), ['高橋']);
  assert.deepEqual(values('こんにちは、田中です', 'PERSON_NAME'), ['田中']);
  // decoys: places, departments, ordinary words before です; hiragana words that are also names
  for (const d of ['次の停車駅は名古屋です。', '明日は東京です', 'これは森です', 'こちらは経理部です', 'さくらが咲いた', '佐藤はなにも言わない']) {
    assert.deepEqual(values(d, 'PERSON_NAME'), [], d);
  }
});

test('addresses keep the building, floor and room', () => {
  assert.deepEqual(values('住所: 東京都港区芝公園4丁目2-8 東京タワービル5階501号室 まで', 'JP_ADDRESS'), ['東京都港区芝公園4丁目2-8 東京タワービル5階501号室']);
  assert.deepEqual(values('大阪府大阪市北区梅田1-2-3 梅田スカイマンション1203', 'JP_ADDRESS'), ['大阪府大阪市北区梅田1-2-3 梅田スカイマンション1203']);
  assert.deepEqual(values('東京都渋谷区渋谷2丁目21番1号 渋谷ヒカリエ34F', 'JP_ADDRESS'), ['東京都渋谷区渋谷2丁目21番1号 渋谷ヒカリエ34F']);
  assert.deepEqual(values('横浜市中区本町1-2-3 101号室', 'JP_ADDRESS'), ['横浜市中区本町1-2-3 101号室']);
  // a word after the block that is not a building, or a bare number, stays outside
  assert.deepEqual(values('東京都千代田区丸の内1-1 会議室で', 'JP_ADDRESS'), ['東京都千代田区丸の内1-1']);
  assert.deepEqual(values('東京都千代田区丸の内1-1 03-1234-5678', 'JP_ADDRESS'), ['東京都千代田区丸の内1-1']);
});

test("driver's licence: check digit raises confidence, a My Number stays a My Number", () => {
  assert.equal(isValidDriversLicense('459803358720'), true);
  assert.equal(isValidDriversLicense('459803358710'), false);
  assert.equal(isValidDriversLicense('019803358720'), false, 'unknown commission code');
  const score = (t: string) => insp.inspect(t).findings.find((f) => f.type === 'JP_DRIVERS_LICENSE')?.score ?? 0;
  assert.ok(score('運転免許証番号 459803358720') > score('運転免許証番号 459803358710'));
  assert.ok(score('運転免許証番号 459803358710') >= 0.5);
  assert.deepEqual(values('免許証とマイナンバー 123456789018 を持参', 'JP_MY_NUMBER'), ['123456789018']);
});

test('Western and romanized names', () => {
  assert.deepEqual(values('Contact Taro Yamada today', 'PERSON_NAME'), ['Taro Yamada']);
  assert.deepEqual(values('Mr. Smith and Dr. Jane Doe', 'PERSON_NAME'), ['Smith', 'Jane Doe']);
  assert.deepEqual(values('Dear Emily Clarke,', 'PERSON_NAME'), ['Emily Clarke']);
  assert.deepEqual(values('New York and San Francisco', 'PERSON_NAME'), []);
});

test('e-mail, cards, IPs', () => {
  assert.deepEqual(values('連絡は yamada.taro@example.co.jp へ', 'EMAIL'), ['yamada.taro@example.co.jp']);
  assert.deepEqual(values('ｙａｍａｄａ＠ｅｘａｍｐｌｅ．ｊｐ', 'EMAIL'), ['ｙａｍａｄａ＠ｅｘａｍｐｌｅ．ｊｐ']);
  assert.deepEqual(values('postgres://admin:S3cret@db.example.com/x', 'EMAIL'), []);
  assert.deepEqual(values('card 4111 1111 1111 1111', 'CREDIT_CARD'), ['4111 1111 1111 1111']);
  assert.deepEqual(values('card 4111 1111 1111 1112', 'CREDIT_CARD'), []);
  assert.deepEqual(values('IP 192.168.0.1 / 2001:db8::8a2e:370:7334 / ::1', 'IP_ADDRESS'), ['192.168.0.1', '2001:db8::8a2e:370:7334', '::1']);
  assert.deepEqual(values('時刻 12:30:45 MAC 00:1A:2B:3C:4D:5E', 'IP_ADDRESS'), []);
});

test('bank accounts, passports, residence cards, licences', () => {
  assert.deepEqual(values('三井住友銀行 渋谷支店 普通 1234567', 'JP_BANK_ACCOUNT'), ['1234567']);
  assert.deepEqual(values('在庫数 1234567 個', 'JP_BANK_ACCOUNT'), []);
  assert.deepEqual(values('旅券番号 TK1234567', 'JP_PASSPORT'), ['TK1234567']);
  assert.deepEqual(values('型番 AB1234567 の部品', 'JP_PASSPORT'), []);
  assert.deepEqual(values('在留カード AB12345678CD', 'JP_RESIDENCE_CARD'), ['AB12345678CD']);
  assert.deepEqual(values('運転免許証番号 123456789012', 'JP_DRIVERS_LICENSE'), ['123456789012']);
});

test('secrets', () => {
  const cases: [string, string][] = [
    ['key AKIAIOSFODNN7EXAMPLE here', 'AKIAIOSFODNN7EXAMPLE'],
    ['ghp_1a2B3c4D5e6F7g8H9i0JkLmNoPqRsTuVwXyZ', 'ghp_1a2B3c4D5e6F7g8H9i0JkLmNoPqRsTuVwXyZ'],
    ['OPENAI sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12Mn34', 'sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12Mn34'],
    ['slack xoxb-123456789012-1234567890123-AbCdEfGhIjKl', 'xoxb-123456789012-1234567890123-AbCdEfGhIjKl'],
    ['password: Xk9#mP2$vL7q', 'Xk9#mP2$vL7q'],
    ['パスワードは Tr0ub4dor&3x です', 'Tr0ub4dor&3x'],
    ['DB_PASSWORD="hunter2Secret!9"', 'hunter2Secret!9'],
  ];
  for (const [t, v] of cases) assert.deepEqual(values(t, 'SECRET'), [v], t);
  const pem = '-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEAx\nabc==\n-----END RSA PRIVATE KEY-----';
  assert.deepEqual(values(`key:\n${pem}\nend`, 'SECRET'), [pem]);
  assert.deepEqual(values('The password policy requires 12 characters.', 'SECRET'), []);
  assert.deepEqual(values('use the token bucket algorithm', 'SECRET'), []);
  const r = insp.inspect('token: ghp_1a2B3c4D5e6F7g8H9i0JkLmNoPqRsTuVwXyZ');
  assert.ok(r.flags.includes('secret'));
});

test('classification: levels and flags, tenant overrides', () => {
  assert.deepEqual(insp.inspect('今日は晴れです').level, 'L0');
  const p = insp.inspect('山田太郎様 090-1234-5678');
  assert.equal(p.level, 'L1');
  assert.deepEqual(p.flags, ['personal']);
  const s = insp.inspect('患者 山田太郎様、病名は糖尿病で通院中');
  assert.equal(s.level, 'L3');
  assert.ok(s.flags.includes('sensitive_personal'));
  assert.equal(insp.inspect('糖尿病の一般的な治療法について教えて').flags.includes('sensitive_personal'), false);
  const t = createInspector({ classification: { flagLevels: { personal: 'L2' }, typeFlags: { EMAIL: ['personal', 'contact'] } } });
  const r = t.inspect('mail a.b@example.com');
  assert.equal(r.level, 'L2');
  assert.deepEqual(r.flags, ['contact', 'personal']);
  assert.throws(() => createInspector({ classification: { flagLevels: { personal: 'L9' as 'L1' } } }));
});

test('custom patterns compile with re2js; invalid ones rejected clearly', () => {
  const c = createInspector({ customPatterns: [{ type: 'EMPLOYEE_ID', pattern: 'EMP-[0-9]{6}', flags: ['internal'], level: 'L2' }] });
  const r = c.inspect('😀社員 EMP-123456 です');
  const f = r.findings.find((x) => x.type === 'EMPLOYEE_ID')!;
  assert.equal('😀社員 EMP-123456 です'.slice(f.start, f.end), 'EMP-123456');
  assert.equal(r.level, 'L2');
  assert.ok(r.flags.includes('internal'));
  assert.throws(() => createInspector({ customPatterns: [{ type: 'X', pattern: '(a)\\1' }] }), (e: unknown) => e instanceof InspectorConfigError && /invalid pattern/.test(e.en) && /不正/.test(e.ja));
  assert.throws(() => createInspector({ customPatterns: [{ type: 'X', pattern: '(?=a)' }] }), InspectorConfigError);
  assert.throws(() => createInspector({ customPatterns: [{ type: 'bad type', pattern: 'a' }] }), InspectorConfigError);
  // catastrophic-backtracking shapes run in linear time under RE2
  const evil = createInspector({ customPatterns: [{ type: 'EVIL', pattern: '(a+)+$' }] });
  const t0 = Date.now();
  evil.inspect('a'.repeat(30000) + '!');
  assert.ok(Date.now() - t0 < 2000);
});

test('masking: typed placeholders, consistent numbering per distinct value, restore', () => {
  const t = '山田太郎様、山田太郎様の電話は090-1234-5678、佐藤花子様は03-1234-5678';
  const r = insp.inspect(t);
  const m = mask(t, r.findings);
  assert.equal(m, '〔氏名1〕様、〔氏名1〕様の電話は〔電話番号1〕、〔氏名2〕様は〔電話番号2〕');
  const p = pseudonymize(t, r.findings);
  assert.equal(restore(p.text, p.map), t);
  // streaming restoration across chunk boundaries
  const rs = createRestorer(p.map);
  let out = '';
  for (let k = 0; k < p.text.length; k += 3) out += rs.push(p.text.slice(k, k + 3));
  out += rs.end();
  assert.equal(out, t);
});
