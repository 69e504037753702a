/** Japanese by default, English available; the choice is kept in a cookie the server reads too. */
export type Lang = 'ja' | 'en';

let lang: Lang = document.documentElement.lang === 'en' ? 'en' : 'ja';

export function getLang(): Lang {
  return lang;
}

export function setLang(l: Lang): void {
  lang = l;
  document.documentElement.lang = l;
  document.cookie = `sekisho_lang=${l}; Path=/console; Max-Age=31536000; SameSite=Strict`;
  try {
    localStorage.setItem('sekisho_lang', l);
  } catch {
    /* private mode */
  }
}

/** ja/en pair of a server message. */
export function msg(m: { ja: string; en: string } | undefined | null): string {
  return m ? m[lang] || m.en || m.ja : '';
}

const M: Record<string, [string, string]> = {
  app: ['関所 コンソール', 'Sekisho console'],
  skip: ['本文へスキップ', 'Skip to main content'],
  nav: ['メインメニュー', 'Main menu'],
  overview: ['概要', 'Overview'],
  backends: ['バックエンド', 'Backends'],
  policies: ['規程', 'Policies'],
  identities: ['ID・資格情報', 'Identities'],
  audit: ['監査ログ', 'Audit'],
  threats: ['脅威', 'Threats'],
  adoption: ['活用状況', 'Adoption'],
  settings: ['設定', 'Settings'],
  language: ['表示言語', 'Language'],
  signout: ['サインアウト', 'Sign out'],
  signedInAs: ['サインイン中:', 'Signed in as'],
  loading: ['読み込み中…', 'Loading…'],
  retry: ['再試行', 'Retry'],
  // sign-in
  signin: ['サインイン', 'Sign in'],
  signinLead: ['管理者の API キー、または管理者の資格情報 (ウォレット) でサインインしてください。', 'Sign in with an administrator API key or an administrator credential (wallet).'],
  apiKey: ['管理者 API キー', 'Administrator API key'],
  apiKeyHelp: ['sk-sekisho- で始まるキー。admin.api_keys に名前が登録されたキーのみ使えます。', 'A key starting with sk-sekisho-, whose name is listed in admin.api_keys.'],
  withWallet: ['資格情報でサインイン', 'Sign in with a credential'],
  walletLead: ['ウォレットでこの QR コードを読み取り、管理者の資格情報を提示してください。', 'Scan this QR code with your wallet and present your administrator credential.'],
  walletWaiting: ['提示を待っています…', 'Waiting for the presentation…'],
  walletQr: ['OpenID4VP 提示要求の QR コード', 'QR code of the OpenID4VP presentation request'],
  // overview
  rpm: ['1 分あたりの要求数 (レベル別)', 'Requests per minute by level'],
  lastHour: ['直近 60 分', 'Last 60 minutes'],
  requests: ['要求', 'Requests'],
  allowed: ['許可', 'Allowed'],
  denied: ['拒否', 'Denied'],
  denials: ['拒否', 'Denials'],
  topReasons: ['主な拒否理由', 'Top denial reasons'],
  none: ['なし', 'None'],
  live: ['ライブ', 'Live'],
  liveOn: ['ライブ更新中', 'Live updates on'],
  liveOff: ['ライブ更新が切断されています', 'Live updates disconnected'],
  recent: ['最近の要求', 'Recent requests'],
  japanMap: ['国内のバックエンド', 'Backends in Japan'],
  japanMapDesc: ['地域ごとのバックエンドと健全性', 'Backends by region and health'],
  worldMap: ['レベル別の送信先 (世界)', 'Where each level may go (world)'],
  worldMapDesc: ['選択したレベルのデータを処理できる国', 'Countries that may process data of the selected level'],
  level: ['レベル', 'Level'],
  regionUnknown: ['地域不明', 'Region unknown'],
  mayGo: ['送信可能', 'May go'],
  ruleCountries: ['規則で許可された国', 'Countries the rule allows'],
  levelBlocked: ['このレベルは AI に送信できません', 'This level may not be sent to AI'],
  noBackendForLevel: ['このレベルを受け取れるバックエンドはありません', 'No backend may receive this level'],
  time: ['時刻', 'Time'],
  decision: ['判定', 'Decision'],
  reason: ['理由', 'Reason'],
  backend: ['バックエンド', 'Backend'],
  model: ['モデル', 'Model'],
  status: ['状態', 'Status'],
  // backends
  health: ['健全性', 'Health'],
  latency: ['遅延 (平均 / 最大, 24 時間)', 'Latency (mean / max, 24 h)'],
  location: ['所在地', 'Location'],
  operator: ['運営者 / 法域', 'Operator / jurisdictions'],
  ceiling: ['上限レベル', 'Ceiling'],
  matrix: ['適合性マトリクス (レベル × バックエンド)', 'Compliance matrix (level × backend)'],
  matrixHelp: ['✓ は送信可、✗ は送信不可 (理由付き)。', '✓ may receive, ✗ may not (with reasons).'],
  closed: ['正常', 'healthy'],
  open: ['遮断中', 'open (failing)'],
  'half-open': ['試行中', 'half-open (probing)'],
  successes: ['成功', 'successes'],
  failures: ['失敗', 'failures'],
  onPrem: ['オンプレミス', 'on premises'],
  contract: ['契約', 'Contract'],
  noTraining: ['学習利用なし', 'no training'],
  retentionDays: ['保存 {n} 日', 'retention {n} days'],
  // policies
  packs: ['規程パック', 'Policy packs'],
  active: ['使用中', 'active'],
  version: ['版', 'version'],
  edit: ['編集', 'Edit'],
  validate: ['検証', 'Validate'],
  save: ['保存', 'Save'],
  saved: ['保存しました。再起動後に有効になります。', 'Saved. It takes effect after a restart.'],
  valid: ['規程は正しく、{n} 件のポリシーがあります。', 'The policy is valid: {n} policies.'],
  invalid: ['規程に誤りがあります', 'The policy has errors'],
  examplesFail: ['例のうち {n} 件が期待どおりになりません', '{n} example(s) no longer give the expected answer'],
  examplesOk: ['例 {n} 件はすべて期待どおりです', 'All {n} examples give the expected answer'],
  policyText: ['Cedar ポリシー ({pack})', 'Cedar policy ({pack})'],
  simulator: ['シミュレーター', 'Simulator'],
  simLead: ['テキストと要求者を選び、チェックポイントの全経過を確認します (何も送信しません)。', 'Pick a text and a principal and see the whole checkpoint trace (nothing is sent).'],
  simText: ['テキスト', 'Text'],
  principal: ['要求者', 'Principal'],
  person: ['職員 (属性を指定)', 'A person (by attributes)'],
  apiKeyPrincipal: ['API キー: {name}', 'API key: {name}'],
  clearance: ['資格レベル', 'Clearance'],
  role: ['役割', 'Role'],
  department: ['部署', 'Department'],
  trainings: ['修了した研修 (カンマ区切り)', 'Completed trainings (comma-separated)'],
  requestedLevel: ['要求レベル (x-sekisho-level)', 'Requested level (x-sekisho-level)'],
  notSet: ['指定なし', 'not set'],
  run: ['実行', 'Run'],
  trace: ['チェックポイントの経過', 'Checkpoint trace'],
  stepAuth: ['認証', 'Authenticate'],
  stepInspect: ['検査', 'Inspect'],
  stepDecide: ['判定', 'Decide'],
  stepTransform: ['変換 (送信されるテキスト)', 'Transform (the text as sent)'],
  stepRoute: ['経路', 'Route'],
  findings: ['検出', 'Findings'],
  compliant: ['適合', 'compliant'],
  notCompliant: ['不適合', 'not compliant'],
  unchanged: ['変更なし', 'unchanged'],
  // identities
  issue: ['資格情報の発行', 'Issue a credential'],
  name: ['氏名', 'Name'],
  employeeId: ['社員番号', 'Employee id'],
  pin: ['PIN (取引コード) を付ける', 'Require a PIN (transaction code)'],
  issueBtn: ['発行して QR コードを表示', 'Issue and show the QR code'],
  offerQr: ['資格情報オファーの QR コード', 'QR code of the credential offer'],
  offerLead: ['ウォレットで読み取ってください (1 回限り、{h} 時間有効)。', 'Scan with a wallet (single use, valid {h} hours).'],
  pinIs: ['PIN: {pin} (本人に別経路で伝えてください)', 'PIN: {pin} (give it to the person over another channel)'],
  credentials: ['発行済みの資格情報', 'Issued credentials'],
  created: ['作成', 'Created'],
  expires: ['有効期限', 'Expires'],
  revoked: ['失効', 'Revoked'],
  revoke: ['失効させる', 'Revoke'],
  confirmRevoke: ['資格情報 {id} を失効させますか?', 'Revoke the credential {id}?'],
  sessions: ['ライブセッション', 'Live sessions'],
  end: ['終了', 'End'],
  trained: ['研修済み', 'trained'],
  untrained: ['未研修', 'untrained'],
  identityDisabled: ['ID 機能 (identity.enabled) は無効です', 'Identity (identity.enabled) is disabled'],
  // audit
  search: ['検索', 'Search'],
  requestId: ['リクエスト ID', 'Request id'],
  from: ['開始日時', 'From'],
  to: ['終了日時', 'To'],
  results: ['検索結果', 'Results'],
  index: ['索引', 'Index'],
  verify: ['証明を検証', 'Verify proof'],
  verifying: ['検証中…', 'Verifying…'],
  verified: ['検証成功: この記録は署名済みチェックポイント (大きさ {n}) に含まれています', 'Verified: this record is included in the signed checkpoint (size {n})'],
  notVerified: ['検証失敗', 'Verification failed'],
  pendingCheckpoint: ['まだチェックポイントに含まれていません', 'Not in a checkpoint yet'],
  vkeyPinned: ['信頼する検証鍵 (ブラウザーに保存)', 'Trusted verifier key (kept in this browser)'],
  vkeyHelp: ['空欄ならサーバーが示す鍵を使います。別経路で入手した鍵を固定すると、サーバーを信頼せずに検証できます。', 'When empty, the key the server names is used. Pin a key obtained over another channel to verify without trusting the server.'],
  pinKey: ['鍵を固定', 'Pin key'],
  checkpoints: ['チェックポイントの履歴', 'Checkpoint history'],
  size: ['大きさ', 'Size'],
  root: ['根ハッシュ', 'Root hash'],
  signatures: ['署名数', 'Signatures'],
  more: ['さらに表示', 'Show more'],
  step_vkey: ['検証鍵', 'Verifier key'],
  step_signature: ['チェックポイントの署名', 'Checkpoint signature'],
  step_checkpoint: ['チェックポイント', 'Checkpoint'],
  step_entry: ['記録', 'Entry'],
  step_inclusion: ['包含証明 (RFC 6962)', 'Inclusion proof (RFC 6962)'],
  noResults: ['該当する記録はありません', 'No matching records'],
  // threats
  threatsOff: ['脅威検知は有効になっていません。脅威検知モジュールを有効にすると、ここに警告とインシデントが表示されます。', 'Threat detection is not enabled. With the threat detection module enabled, alerts and incidents appear here.'],
  alerts: ['警告', 'Alerts'],
  incidents: ['インシデント', 'Incidents'],
  severity: ['重大度', 'Severity'],
  type: ['種別', 'Type'],
  action: ['処置', 'Action'],
  approve: ['共有を承認', 'Approve sharing'],
  exportStix: ['STIX を出力', 'Export STIX'],
  approvedBy: ['承認者', 'Approved by'],
  title: ['件名', 'Title'],
  'sev.low': ['低', 'low'],
  'sev.medium': ['中', 'medium'],
  'sev.high': ['高', 'high'],
  'sev.critical': ['緊急', 'critical'],
  'status.open': ['未承認', 'open'],
  'status.approved': ['承認済み', 'approved'],
  'status.shared': ['共有済み', 'shared'],
  'status.closed': ['終了', 'closed'],
  'act.log': ['記録', 'log'],
  'act.alert': ['警告', 'alert'],
  'act.step_up': ['再提示を要求', 'step-up'],
  'act.block': ['遮断', 'block'],
  'act.quarantine': ['隔離', 'quarantine'],
  // adoption
  adoptionLead: ['部署・週ごとの AI 利用者の割合 (資格情報を持つ職員に対して)、研修済み / 未研修、1,000 要求あたりの拒否数。', 'Share of each department\'s workforce (people with a credential) using AI per week, trained vs untrained, and denials per 1,000 requests.'],
  week: ['週', 'Week'],
  workforce: ['職員数', 'Workforce'],
  users: ['利用者', 'Users'],
  share: ['利用率', 'Share'],
  per1000: ['拒否/1,000', 'Denials/1,000'],
  allDepartments: ['全社', 'All departments'],
  unknownDept: ['(部署なし)', '(no department)'],
  // settings
  keys: ['鍵とローテーション', 'Keys and rotation'],
  keystore: ['鍵ストア', 'Keystore'],
  currentVersion: ['現在の鍵バージョン', 'Current key version'],
  pendingRewrap: ['再ラップ待ち', 'Awaiting rewrap'],
  subjects: ['対象者鍵', 'Subject keys'],
  erasures: ['消去', 'Erasures'],
  items: ['件', 'items'],
  current: ['現在', 'current'],
  old: ['旧 (復号のみ)', 'old (decrypts only)'],
  retired: ['廃止', 'retired'],
  retention: ['保存方針 (レベル別)', 'Retention per level'],
  metadata: ['メタデータのみ', 'metadata only'],
  bodies: ['本文も暗号化して保存', 'bodies too, encrypted'],
  apiKeys: ['API キー', 'API keys'],
  signingKeys: ['資格情報の署名鍵', 'Credential signing keys'],
  auditLog: ['監査ログ', 'Audit log'],
  admin: ['管理者', 'Administrator'],
};

/** A value's label (`tv('sev', 'high')`), or the value itself when there is none. */
export function tv(kind: string, value: string): string {
  return M[`${kind}.${value}`] ? t(`${kind}.${value}`) : value;
}

export function t(key: string, vars: Record<string, string | number> = {}): string {
  const m = M[key];
  const s = m ? m[lang === 'ja' ? 0 : 1] : key;
  return s.replace(/\{(\w+)\}/g, (x, k: string) => (vars[k] === undefined ? x : String(vars[k])));
}

export const LEVEL_LABEL: Record<string, [string, string]> = {
  L0: ['公開', 'public'],
  L1: ['社内限り', 'internal'],
  L2: ['機密', 'confidential'],
  L3: ['極秘', 'strictly confidential'],
  L4: ['法定秘', 'legally protected'],
};

export function levelLabel(l: string): string {
  const m = LEVEL_LABEL[l];
  return m ? `${l} ${m[lang === 'ja' ? 0 : 1]}` : l || '—';
}

export function fmtTime(iso: string): string {
  const d = new Date(iso);
  return d.toLocaleString(lang === 'ja' ? 'ja-JP' : 'en-GB', { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export function fmtNum(n: number): string {
  return n.toLocaleString(lang === 'ja' ? 'ja-JP' : 'en-US');
}
