/**
 * Feature lexicon of the content detectors, in Japanese and English. Each entry names a
 * *feature* (a class of words: an override verb, a target such as "previous instructions", a
 * persona frame …), never a whole attack sentence: the detectors score combinations of features
 * near each other, so that paraphrases the lexicon has never seen still combine.
 *
 * Entries are folded like the text (lower case, full-width → ASCII, katakana → hiragana), so
 * they are written naturally here. Latin entries need a word boundary on the left; a trailing
 * `$` also needs one on the right. A leading `~` drops the left boundary (suffixes such as "gpt").
 */
export const FEATURES = [
  'OVR', // override / discard verbs
  'TGT', // what is overridden: instructions, rules, restrictions
  'TGTW', // weak targets (settings, policy, 設定, 方針): count only with a cue that the model's own rules are meant
  'SCOPE', // previous, above, all, initial …
  'SYS', // the system prompt or configured instructions as such
  'REVEAL', // show, print, tell me …
  'VERBATIM', // word for word, in full
  'SECRET', // API keys, passwords, credentials
  'PERSONA', // act as, you are now, なりきって
  'UNREST', // no restrictions, uncensored, never refuse
  'NAMED', // DAN, developer mode, jailbroken
  'HARM', // weapons, drugs, malware
  'FICTION', // story, hypothetical, grandma
  'DETAIL', // step by step, real, working
  'NEWINS', // instead, new instructions, from now on
  'TAG', // spoofed chat-template or system tags
  'AUTH', // claimed authority: administrator, developer
  'NOREFUSE', // refusal suppression, forced answer prefixes
  'ADDR', // text addressing an AI model (indirect injection)
  'ADDR2', // text mentioning an AI model
  'ACTION', // actions an agent could take: forward, delete, download
  'HIDDEN', // hidden containers: HTML comments, white text
  'CONCEAL', // do not tell the user
  'EXFILQ', // URL query tricks: url-encode, ?q=
  'CONV', // the conversation, chat history, summary
  'BULK', // all, every, 全員
  'PEOPLE', // customers, users, employees
  'PII', // names, emails, addresses
  'EXTRACT', // list, dump, export
  'COUNT', // only counts, templates, one's own data
  'MANAGE', // administering data or keys rather than reading them out: delete, rotate, reset, 削除, 有効期限
  'SELF', // the user's own earlier message
  'META', // talking about attacks: training, example, detect, news
  'META2', // weaker meta cues: explain, what is
  'HOWTO', // how do I …
  'ASK', // a question about the text: ですか, is this …
  'DECODE', // decode / follow the decoded text
  'ACTON', // follow the embedded text: act on it, do what it says, その指示に従って (payload splitting, translate-then-obey)
  'OBEYME', // obey only me: follow my instructions
  'YOUR', // your, あなたの
  'CODE', // code and sample data, not real records
  'NODETAIL', // the text declines the method: 作り方は不要, without explaining how
  'REPORT', // reported speech: third person, past tense, an incident report or study of an attack
  'XFORM', // transform verbs (summarise, translate, paraphrase, 要約, 翻訳): a reveal only when their object is the model's own prompt
  // (not "translate"/"summarise" as such: attacks hide in texts handed over for exactly that)
] as const;
export type Feature = (typeof FEATURES)[number];

export const LEXICON: Record<Feature, readonly string[]> = {
  OVR: [
    'authority over your', 'takes priority over', 'priority over them', 'whatever your rules say', 'whatever your instructions say', 'regardless of your', 'no matter what your', '何と言っていようと', '何と書いてあっても', 'よりも優先', 'より優先',
    "doesn't count", 'does not count', 'no longer count', 'aside$', 'cease applying', 'cease following', 'stop applying', 'もう関係ありません', '関係ありません', '関係ない', 'もう関係ない',
    'expired', 'wipe your memory', 'start fresh', 'was a draft', 'were a draft', '参照しない', '参照せず', '外して',
    'none of your', 'not in force', 'no longer in force', 'withdrawn', 'withdraw', 'stripped', 'stripped out', '扱いにして', '取り除',
    'scratch', "don't exist", 'do not exist', 'does not exist', "doesn't exist", 'lifted', 'no longer exist', 'ご放念', '放念', '無効化', '無効と', 'ないものとして', 'なかったものと', '無かったものと', 'pretend the', 'pretend that the',
    '適用されず', '適用外', 'nothing in your',
    'overwrit', 'outdated', 'obsolete', 'invalid$', 'on hold', 'clear all', 'clear your', 'stop obeying', 'quit following', "don't have to follow", 'do not have to follow', 'no need to follow', "doesn't matter", 'does not matter', 'treated as void', 'nullif', 'どうでもいい', 'もういい', 'なしで', '忘却', '無かったこと', '白紙', '従わなくて', '守らなくていい', '聞かなくていい', '効力を失',
    'no more', 'stop what you are doing', 'stop what you\'re doing', '作業を中断', '中断して', '気にせず', '必要はもう', '必要はありません', '従わなくていい', '従わなくても', 'もう従わ',
    'ignor', 'disregard', 'forget', 'overrid', 'bypass', 'skip', 'set aside', 'put aside', 'drop all', 'drop your', 'drop the', 'discard',
    'cancel', 'revok', 'abandon', 'neglect', 'pay no attention', "don't pay attention", 'do not pay attention', "don't follow", 'do not follow', 'stop following', 'no longer follow',
    'no longer appl', 'no longer valid', 'no longer need', 'no longer bound', 'no longer in effect', 'not bound by', "don't need to follow", 'do not need to follow', 'need not follow',
    'scrap', 'void$', 'supersed', 'invalidat', 'deprecated', 'circumvent', 'get around', 'disable', 'turn off', 'switch off', 'suspend', 'lift the', 'lift all', 'remove all',
    'are off$', 'is off$', 'are now off', 'is now off', 'are disabled', 'is disabled', 'are suspended', 'is suspended', 'are switched off', 'are turned off', 'no longer active',
    'throw out', 'throw away', 'erase', 'wipe', 'reset your', 'reset all', 'break your', 'break the rules', 'not apply', "don't apply", 'do not apply', 'safely ignore',
    '無視', 'むしし', 'をむし', '忘れ', 'わすれ', '破棄', '取り消', '取消', '無効', '撤回', '解除', 'リセット', '回避', '気にしなくて', '気にしないで', '守らなくて', '従わなくて',
    '従う必要はな', '従う必要もな', '従わないで', '適用されません', '適用しない', '適用されない', 'なかったことに', 'キャンセル', '上書き', '廃止', '取っ払', '捨て', '外して', 'オフに', '無しで', '破って', '破り',
  ],
  TGTW: ['settings$', 'polic', 'training$', 'setup$', 'configuration', '設定', 'ポリシー', '方針', '規程'],
  TGT: [
    '言われていること', '言われている', 'guidance',
    'wording', 'content guidelines', '設定文',
    'told you', 'what they said',
    'instructions you', 'setup text', 'what they told', 'what you were told', '命令は', '指図',
    'instruction', 'instruct', 'directive', 'rule$', 'rules$', 'guideline', 'guidance', 'prompt', 'programming', 'constraint', 'restriction', 'orders$', 'commands$',
    'safety', 'filter', 'limitation', 'limits$', 'guardrail', 'ethic', 'told$', 'directions$', 'caveats', 'standing order', 'alignment',
    '指示', '命令', 'ルール', '規則', '制約', '制限', 'ガイドライン', 'プロンプト', '規定', '縛り', '安全', '倫理', '決まり', '指令', '言われたこと', '言われた事', '教わった', '前提', '規約', 'しじ', 'めいれい', 'るーる',
  ],
  SCOPE: [
    'at the beginning', 'はじめに', '初めに', '課された',
    'you were deployed', 'deployed with', 'earlier guidance', 'this message onward',
    'at the top', 'top of this', 'start of this', 'operator configured', 'you were set up with', 'set up with', '最初に設定された', '先ほどまでの',
    'came before', 'you have received', 'you received', 'you got', 'you had', 'until now', 'までの', '受けた', 'お受けになった', '言われた',
    'you\'ve been given', 'been given', 'you have been given', 'you\'ve been told', '設定した', 'が設定', '設定されている', '課されている', '与えられている', '決められた', '定められた', '受けている',
    'ur$', 'previous', 'prior', 'above', 'earlier', 'preceding', 'initial', 'original', 'all$', 'any$', 'every', 'standing', 'your', 'before this', 'up to now', 'so far', 'old$', 'existing', 'current', 'default',
    '以前', 'これまで', '今まで', 'いままで', '上記', '上の', '先ほど', 'さっき', '最初', '当初', '初期', '元の', 'もとの', 'すべての', '全ての', '全部', '従来', '従前', '与えられた', '設定された', '受け取った', '前に言', '前の指示', '前の命令', '前のルール', '前の設定', 'ここまでの', 'いぜん', '既存', '古い',
  ],
  SYS: [
    'before my first message', 'came before my', 'text that came before', 'anything hidden', 'including hidden', 'first 100 words', 'first words of', 'the prompt that defines', 'defines your behavio', 'メッセージより前', '隠れている部分', '隠された部分', 'この会話の最初', 'あなたの振る舞いを決め', '決めているプロンプト',
    'told at the beginning', 'the company gave you', 'instructions the company', 'gave you', 'あなたに与えた', '会社があなたに', 'your hidden setup',
    '最初の設定', '元の設定', '当初の設定', '初期の設定',
    'everything before this', 'before this sentence', 'hidden part', 'the company wrote', 'wrote for you', "part i can't see", 'part i cannot see', 'your operator', "operator's instructions", 'setup instructions', 'あなたのために書いた', '私には見えない', '見えない部分', 'システムメッセージの内容',
    'start of this conversation', 'start of the conversation', '<system>', 'system tags', 'your full configuration', 'your initial prompt', 'deployed with', 'told not to tell', '初期設定の文章', 'あなたに書いた', 'あなたに設定されている',
    'at the top of this conversation', 'the operator configured', 'everything the operator', 'instructions you received', 'rules you were set up with', 'wording of the instructions', 'start of this session', 'your configuration', '受け取った設定文', 'あなたが受け取った',
    'above this message', 'conversation above', 'what the developers', 'developers wrote', 'developer wrote', 'the words above', 'words above', 'instructions you got', 'before i started', 'before the user', 'rules you were given', 'rules were you given', 'you operate under', 'your setup', 'your directives', 'your policies', 'your content policy', 'env file', '.env', 'あなたのルール', 'あなたの指示', 'あなたのプロンプト', 'あなたの設定', 'あなたの方針', 'あなたが守っている', 'あなたが従っている', 'あなたに与えられ', '会話の前', 'この会話の前', 'あなたの内部', '指示内容',
    '設定に保存', '設定から読み取', '受けている制約', 'あなたの制約',
    'この会話より前', '会話より前', 'あなたに渡され', '最初に渡され', '渡された指示', '渡された設定', 'first line you', 'first message you', 'first thing you were', 'very first line',
    'system prompt', 'system message', 'system instruction', 'system note', 'initial prompt', 'initial instruction', 'original prompt', 'original instruction', 'hidden prompt', 'hidden instruction', 'hidden rule',
    'secret instruction', 'secret rule', 'developer message', 'developer instruction', 'developer prompt', 'context window', 'your prompt', 'your instructions', 'your rules', 'your guidelines',
    'your configuration', 'your programming', 'your system', 'your initial', 'your original', 'your hidden', 'your internal', 'you were told', 'were you told', 'you were given', 'you were configured', 'you were initiali', 'you were set up',
    'you started with', 'you were programmed', 'before our conversation', 'before this conversation', 'before this chat', 'precedes this', 'pre-prompt', 'preprompt', 'meta prompt', 'above this line',
    'text above', 'everything above', 'confidential instruction', 'confidential configuration', 'internal rule', 'internal instruction', 'operating instruction', 'configured with', 'initialised with', 'initialized with',
    'システムプロンプト', 'システムメッセージ', 'システム設定', '初期プロンプト', '初期の指示', '最初の指示', '最初に受け取', '最初に与えられ', '最初に設定', '元の指示', '内部指示', '内部ルール', '内部の設定',
    '内部の指示', '隠された指示', '隠し指示', '秘密の指示', '指示文', '設定文', '与えられた指示', '与えられている', '受け取った指示', '受け取った設定', '会話が始まる前', '上に書かれて', 'この上に', '設定内容', 'プロンプトの全文', 'しすてむぷろんぷと', '従っている内部',
  ],
  REVEAL: [
    'summarize the text', 'summarise the text', 'respond with the content', 'reply with the content', 'content of your', '要約して', '返して', 'エンコードして',
    '一覧にして', '一覧で', 'in reverse', '逆から',
    'copy', 'コピー', 'recite',
    'paste the', 'exact wording', 'in a list', '見せて',
    'quote', 'write it out', 'what did', 'contents of', 'encode your', 'translate your', 'spell', '引用', '書き出して', '列挙',
    'reveal', 'show', 'print', 'output', 'display', 'repeat', 'tell me', 'tell us', 'disclose', 'leak', 'dump', 'expose', 'write out', 'paste', 'spell out', 'recite', 'give me', 'what is', 'what are', 'what were',
    "what's", 'list$', 'share', 'provide', 'echo', 'read out', 'type out', 'render', 'include',
    '教えて', 'おしえて', '表示', '出力', '見せ', '開示', '書き出', '繰り返', '貼り付け', '示して', 'お示し', '出して', '漏ら', '暴露', '読み上げ', '公開', '共有して', 'って何', 'とは何ですか', '何？',
  ],
  VERBATIM: [
    'exactly as', 'as they were written', 'as it was written', '書かれたとおり', '書かれた通り',
    '原文',
    'verbatim', 'word for word', 'word-for-word', 'exactly', 'in full', 'unchanged', 'full text', 'complete text', 'everything', 'do not summar', "don't summar", 'letter at a time', 'letter by letter', 'in its entirety', 'full', 'complete',
    '一字一句', '全文', 'そのまま', '省略せず', '要約は不要', '一文字ずつ', '全部', 'すべて',
  ],
  SECRET: [
    'api tokens', 'access token', 'アクセストークン',
    'api_key', 'secret_access', 'database_url', 'aws_', '.env', 'パスワード類',
    'api key', 'api-key', 'apikey', 'api token', 'password', 'passwd', 'secret', 'credential', 'token$', 'tokens$', 'private key', 'environment variable', 'env var', 'access key',
    'connection string', 'confidential', 'ssh key', 'auth token', 'keys$',
    'apiキー', 'パスワード', '秘密鍵', '認証情報', '機密', '社外秘', 'トークン', '環境変数', '鍵を', '鍵、', '接続文字列', 'アクセスキー', '秘密', 'ひみつ',
  ],
  PERSONA: [
    'シミュレート', 'simulate a',
    'be an', 'be a$',
    'you are now', "you're now", 'you are going to', "you're going to", 'you will now', 'you will be', 'act as', 'acting as', 'pretend', 'role-play', 'roleplay', 'role play', 'play the role',
    'simulate', 'stay in character', 'in character', 'from now on you', 'from this point', 'for the rest of this conversation', 'imagine you are', "imagine you're", 'if you were', 'immerse yourself',
    'behave as', 'respond as', 'answer as', 'persona', 'character', "you're max", 'you are a', 'you are an', "you're an", "you're a", 'two characters', 'two responses', 'respond twice',
    'になりきって', 'になりきり', 'として振る舞', 'としてふるま', 'を演じ', '演じて', 'ロールプレイ', '役として', '役に入り', '今からあなたは', 'あなたは今から', '今日から', 'これからあなたは', '君は', 'お前は', 'あなたは',
    '人格', 'キャラ', 'モードで話', 'モードに切り替え', 'モードを有効', 'として、', 'だったとしたら', '二通り', '二つの',
  ],
  UNREST: [
    'escaped all', 'escaped its', 'free from', 'freed from', 'never refuses anything', '解き放たれた', 'から解放された',
    '好きに答え', '自由に答え', 'ポリシーを持たない', '持たないai', 'no policies', 'with no policies',
    'without any limits', 'no guardrails', 'without guardrails', 'no guardrail', 'ルールを持たない', '法律がない', '法律のない', 'restrictions off', 'all restrictions off',
    'safety layer stripped', 'stripped out', 'safety layer', 'safety removed', 'without the safety', '安全機能を取り除', '取り除かれた', '解放版', 'answers any question',
    'never given any rules', 'without hesitation', 'answers anything', 'only rule', '規則に縛られない', '縛られない', '制限のないモード',
    'どんな内容でも', 'どんな内容も', 'any content', 'generate anything', 'generate any',
    'would normally refuse', 'normally refuse', 'shadow self', 'no content policy', 'despises', 'ignores every', 'ignores all', 'safety training removed', 'had its safety', 'safety filters are off', 'no moral guidelines', 'no ethical limits', 'is legal', 'are legal', 'nothing is illegal', 'no laws about', 'フィルタなし', 'フィルタのない', '倫理フィルタ', '概念が存在しない', '存在しない世界', '制限を外した', '違法なことは何も', '合法', '規則もなく', 'ルールにも従わない', '断らない',
    '何でも話', '何でも手伝', '何でも答', '制約がな', '制限がな', 'ルールがな', '規則がな', 'フィルターがな', '安全上の制約', 'have no safety', 'without any rules', 'anything, including',
    'no restriction', 'without restriction', 'unrestricted', 'without any restriction', 'zero restriction', 'no rules', 'no limits', 'without limits', 'no limitations', 'unfiltered', 'uncensored', 'no filter',
    'without filter', 'without any filter', 'no ethic', 'without ethic', 'no ethical', 'amoral', 'no morals', 'no moral', 'no guidelines', 'without guidelines', 'never refuse', 'never decline', 'never says no',
    'never say no', 'without refusing', 'without refusal', 'no refusals', 'not refuse', "doesn't refuse", 'does not refuse', 'never lectures', 'without warnings', 'without disclaimers', 'no disclaimers',
    'no caveats', 'have to abide', 'not bound by', 'broken free', 'break free', 'free of', 'breaking rules', 'do anything now', 'no content polic', 'policies disabled', 'filters off', 'switched off',
    'without alignment', 'without any alignment', 'no alignment', 'safety features removed', 'no safety', 'without safety', 'no longer bound', "doesn't care about", "don't care about", 'does not care about', 'no laws', 'without any of the usual',
    'answer everything', 'answers everything', 'answer anything', 'answers anything', 'help with anything', 'helps with anything', 'anything i ask', 'whatever i ask', 'without content polic', 'no policies',
    'ur free', "you're free", 'you are free', 'safety filters', 'no norms', 'avoid norms', 'any policy', 'anything and', 'say anything', 'always gives the answer', 'even if it',
    '制限のない', '制限なし', '無制限', '制約のない', '制約なし', '制約もなく', '制約を持たない', '何の制約', 'フィルターなし', 'フィルターのない', 'フィルターはオフ', 'フィルターをオフ', '検閲なし', '検閲されていない',
    '倫理観がな', '倫理観を持たな', '倫理観なんか', '倫理も', '倫理規定も', '道徳を無視', '拒否しない', '拒否せず', '断らない', '断りもしない', '縛りもない', '縛られない', '何でもできる', '何でもあり',
    '規制もない', '規制も関係', '法律もな', '法律にも縛', '包み隠さず', '何も隠さず', '何でも答え', 'どんな質問にも', '解放されて', '制限を一切', '制限を解除', '制限解除', '注意書きなし', '説教しない', 'とは言わない', '自由だ', 'なんでも', '何を聞かれても', '規則にも従う必要',
  ],
  NAMED: [
    'rogue ai', '反逆ai', '暴走ai', 'unlocked',
    'opposite day', 'antigpt', 'shadow', '裏のあなた', '闇の',
    'dan$', 'stan$', 'aim$', 'developer mode', 'dev mode', 'jailbreak mode', 'jailbroken', 'jailbreak successful', 'god mode', 'evil mode', 'research mode', 'unrestricted mode', '~gpt$', 'evil$', 'omega', 'dark',
    '開発者モード', '脱獄', '裏の人格', 'ダーク', '悪魔', '悪の', '無制限ai', 'モード',
  ],
  HARM: [
    '認証を突破', '認証を回避', '認証を破', 'ログインを突破', 'bypass authentication', 'bypass the login', 'bypass 2fa', 'bypass mfa', 'take over someone', 'アカウントを奪',
    'untraceable gun', 'gun$', 'guns$', 'chloroform', 'alarm system', 'safecrack', 'disable the alarm', '銃', '警報装置', '金庫破り', 'クロロホルム',
    'toxic gas', 'poison gas', 'thermite', 'テルミット', '有毒ガス', '毒ガス',
    '偽の身分証', '身分証の偽造', 'カード番号を盗',
    'silencer', 'hitman', 'munition', 'explosives', 'hacking tool', 'ハッキングツール', '鍵を開ける', '合成する', '違法薬物',
    'fake passport', 'passport forg', 'pick a lock', 'steal a car', 'sarin', 'fentanyl', 'pipe bomb', 'nerve agent', '乗っ取', '騙して', '詐欺', '盗む方法', '爆発',
    'bomb', 'explosive', 'napalm', 'weapon', 'meth$', 'methamphetamine', 'synthesi', 'drug', 'narcotic', 'malware', 'ransomware', 'virus$', 'keylogger', 'phish', 'hack into', 'hacking', 'steal', 'fake id',
    'counterfeit', 'poison', 'kill', 'murder', 'etc/shadow', 'immobili', 'break into', 'launder', 'product key', 'illegal', 'crime', 'get into my', 'without them knowing', 'fake id', 'credit card numbers',
    '爆弾', '爆発物', '武器', '薬物', '覚醒剤', '麻薬', '合成方法', 'マルウェア', 'ランサムウェア', 'ウイルス', 'フィッシング', '不正アクセス', '盗む', '盗み', '偽造', '毒', '殺', 'ハッキング', '侵入', 'イモビライザー',
    'プロダクトキー', '犯罪', '違法',
  ],
  FICTION: [
    'dialogue', 'monologue', '世界だったら', 'ない世界', 'roleplay time', 'ロールプレイ',
    'scene', 'deceased', 'late grandfather', 'grandfather', '祖父', 'フィクションとして',
    'thriller', 'chapter', 'villain', 'screenplay', 'plot$', '悪役', '登場人物', 'セリフ', '章で', 'サスペンス',
    'story', 'fiction', 'hypothetical', 'imagine', 'novel$', 'script', 'movie', 'film$', 'game$', 'grandma', 'grandmother', 'parallel universe', 'in a world where', 'actor', 'rehears', 'just a', 'only a', 'scenario',
    '物語', 'フィクション', '架空', '仮に', '仮定', '小説', '台本', '映画', '祖母', 'おばあちゃん', 'ゲーム', '世界の', '俳優', 'シーン', '場面', 'ただの',
  ],
  DETAIL: [
    'real techniques', 'walks the rookie through', 'walk me through', '実際の手口', '一つずつ',
    'amounts', 'in what amounts', 'quantities',
    'realistic', 'precisely', 'exactly how',
    'how much', 'which poison', 'usable detail', '正確に', '分量も',
    'the steps', 'steps for', '作り方', 'recipe', 'レシピ', '分量',
    'exact quantit', 'exact dose', 'exact amount', 'with details', 'exact', 'precise', 'working code', 'usable', '手順付き', '実際に使える', '分量', '本物の',
    'step by step', 'step-by-step', 'in detail', 'full detail', 'technical detail', 'real$', 'actual', 'working', 'for real', 'exactly how', 'detailed', 'real steps', 'instructions',
    '手順', '詳しく', '詳細に', '本物', '実際に動く', '実際の', '具体的に', '動く',
  ],
  NEWINS: [
    'new ones', 'comply with whatever', 'whatever i write',
    'new directive', 'new order', 'new guideline', 'confirm and proceed', 'acknowledge and comply', 'acknowledge and proceed', 'and comply', '従いなさい', '従え',
    'obey the following', 'follow the following', 'the following rule', 'the following instead', 'actual instructions', 'your only goal', 'only goal', '以下の指示', '以下の質問', '新しい指示', '新ルール',
    'instead', 'new instruction', 'new task', 'new rule', 'new policy', 'new prompt', 'new system', 'your new', 'only instruction', 'real instruction', 'from now on', 'from here on', 'from this point',
    'going forward', 'supersede', 'takes precedence', 'priority', 'henceforth', 'until further notice', 'the real', 'treat this message', 'now operate', 'now your',
    '代わりに', 'かわりに', '新しい指示', '新ルール', '新しいルール', '新しいポリシー', '新ポリシー', '新しいシステム', '今後は', 'これからは', 'ここから先', '以降', '本番の命令', '本番の指示', '優先', '以下の新しい', '次の指示', '以後',
  ],
  TAG: [
    '<|im_start|>', '<|system|>', '[inst]', '<<sys>>', '<system>', '</system>', '### system', '### new', 'system:', '[system]', '[system', '(system', 'new system message', 'end of prompt', 'end of system',
    'end of reviews', '---- end', '===', 'override:', 'important update', 'important instruction', '【システム】', '【管理者より】', 'システム：', 'システム:', '新しいシステムメッセージ', '＝＝＝',
  ],
  AUTH: [
    'administrator', 'admin$', 'developer of', "i'm the developer", 'i am the developer', 'openai', 'anthropic', 'authori', 'approved', 'red-team exercise', 'red team exercise', 'your developers',
    '管理者', '開発元', '開発者です', '運営', '承認済み', '許可します', 'レッドチーム演習',
  ],
  NOREFUSE: [
    "can't say", 'cannot say', "can't add warnings", 'no warnings', 'と言うのは禁止', '警告も禁止', '警告は禁止', '言ってはいけない',
    'do not apologi', "don't apologi", 'no apolog', 'do not say you cannot', "don't say you can't", "don't say you cannot", 'do not include any disclaimer', "don't include any disclaimer", 'no disclaimer', 'never mention safety', '謝罪', '注意書き', 'できませんとは', 'できません」とは', '断るのは禁止', '言い訳',
    'never refuse', "don't refuse", 'do not refuse', 'never say', 'never decline', 'never mention', 'start your reply with', 'start your answer with', 'begin your response with', 'begin your reply with',
    'start your response with', 'sure, here is', 'confirm by saying', 'acknowledge by', 'without any of the usual', 'complete this sentence', 'then keep going',
    '決して断ら', '断らないで', '拒否しない', '冒頭に', 'と返答', 'とだけ返答', 'と書いて', 'とは言わない', '承知しました', 'と答え',
  ],
  ADDR: [
    'assistant instructions', 'instructions for the assistant', 'note for ai', 'for ai:', 'note for the ai', 'aiへのメモ', 'aiへのメッセージ',
    'ai assistant processing', 'assistant processing', 'to the helpdesk bot', 'helpdesk bot', 'to the bot', 'support bot', 'ボットへ', '処理するaiアシスタントへ', 'を読んでいるai',
    '読んだアシスタント', 'を読んだai', 'faqを読んだ', 'assistant reading', 'ai agents:', 'aiエージェントへ',
    'ai model processing', 'models summarising', 'models summarizing', 'language models summarising', 'for the meeting-summary ai', 'note for the', 'for ai screeners', 'ai screeners', 'note to agent', 'to agent:', 'assistant, ', 'ai code assistant', 'ai coding', 'when an ai', 'ai:', 'データを受け取ったai', '受け取ったai', '要約aiへの指示', 'aiへの指示', 'ツール向け', 'ai選考', 'aiコーディング支援', '支援ツールへ',
    'instructions for the ai', 'instruction for the ai', 'for the ai', 'for the support bot', 'support bot:', 'to the support bot', '@ai', 'ai-bot', '@copilot', 'when an ai', 'an ai agent processes', 'any ai reading', 'を処理するai', 'するaiは', 'するaiエージェント', 'aiへの指示', 'サポートai', 'アシスタントさん',
    'ai assistant:', 'ai assistant,', 'ai assistant reading', 'ai assistants that', 'ai assistants:', 'assistant:', 'assistant,', 'dear ai', 'to the ai', 'to any ai', 'note to the ai', 'note to ai', 'if you are an ai', 'if you are a language model', "if you're an ai",
    'ai reading', 'ai agents answering', 'ai agent processing', 'ai models:', 'for ai models', 'whichever assistant', 'reading this', 'who reads this', 'that read', 'that reads', 'processing this', 'to the model', 'instruction to the model', 'instruction for the model',
    'attention ai', 'attention language model', 'dear assistant', 'hey assistant', 'hey copilot', 'language model:', 'language models:', 'ai:', 'any ai', 'for the summariser', 'for the summarizer', 'note to the', 'ai coding assistant',
    'aiアシスタントへ', 'aiへ', 'アシスタントへ', '言語モデルへ', '要約aiへ', '読んでいるai', '読み込んだai', 'aiさん', 'モデルへの指示', 'モデルへ', 'aiへの', '処理するai', '読んだai', '支援ツールへ', '読み取るai', '行うai', '回答するai', 'aiエージェントは',
  ],
  ADDR2: [
    'aiは', '言語モデルは',
    'ai assistant', 'language model', 'llm$', 'ai model', 'ai agent', 'the agent', 'chatbot', 'copilot', 'chatgpt', 'summariser', 'summarizer', 'summarising this', 'summarizing this', 'screening ai', 'the assistant', 'the model',
    'aiアシスタント', '言語モデル', 'チャットボット', 'aiエージェント', 'アシスタント',
  ],
  ACTION: [
    'include this', 'referral link', '紹介リンク',
    'mark this', 'schedule payment', 'without review', 'escalate', 'disable two-factor', 'enter their card', '昇格', '無効にして', '承認済み', '支払いを予約', '入力するよう',
    '勧め', '送らせ', 'pay with', 'gift card', 'ギフトカード',
    'email the', 'insert', 'state that', 'must state', 'omit', 'add an action item', 'approve', 'close every', 'mark them', 'ask them for', 'recommend', 'ignore all other', 'let the user', '案内', '追記', '評価', '再入力', '送信する', '書かない',
    '書いて', '書くこと', 'と書', 'write that', 'say that', 'describe', 'mention that', 'recommend', '推薦', '紹介し', '貼り付け',
    'forward', 'send', 'email the', 'delete', 'transfer', 'refund', 'download', 'upload', 'curl', 'execute', 'visit', 'click', 'call +', 'grant', 'rank this', 'rate this', 'redirect', 'navigate', 'install',
    'add the line', 'post to', 'reply', 'tell the user', 'tell them', 'respond only with', 'reply only with', 'say this', 'stating', 'render', 'respond with', 'must call', 'must also',
    '転送', '送信', '送って', '削除', '返金', 'ダウンロード', '実行', '電話するよう', '許可し', '高く評価', '最高評価', '追加し', '返信', '伝えて', '伝えること', '回答すること', '返答してください', '誘導', '強調', '含めて', '含めること',
  ],
  HIDDEN: [
    '<!--', 'display:none', 'display: none', 'font-size:1px', 'font-size: 1px', 'font-size:0', 'color:white', 'color: white', 'color:#fff', 'visibility:hidden', '[hidden', 'hidden text', '白文字', '[//]:', '[[', '(#override)',
  ],
  CONCEAL: [
    "don't tell the user", 'do not tell the user', 'without telling', "don't mention", 'do not mention', 'not mention this', 'without asking', "don't tell", 'do not tell', 'not tell the user', 'never reveal this',
    '伝えずに', '知らせない', '触れない', '言及しない', '気づかれない', '黙って', '言わないで',
    '伝えないこと', '伝えないで', '伝えないように', 'お伝えせず', '言わないこと', '言わずに', '知らせずに', '内緒で', '内密に',
    'without letting the user', "don't let the user know", 'do not let the user know', 'keep this from the user', 'hide this from the user', 'without informing',
  ],
  EXFILQ: [
    'appended to the url', 'append it to the url', 'add it to the url', 'to the url', 'urlに付け', 'urlの後ろ',
    'url-encode', 'urlencode', 'url encode', 'url-encoded', 'url encoded', 'query string', '?q=', '?d=', '?data=', '?c=', '?msg=', '?text=', '?p=', '&data=', 'urlエンコード', 'クエリ', '後ろにつけ', 'webhook',
    'track usage', 'collector', 'exfil',
  ],
  CONV: [
    'conversation', 'chat history', 'chat log', 'previous messages', 'summary', 'context', 'our chat', 'chat_history', 'user\'s previous', 'this chat',
    '会話', '履歴', '要約', 'やり取り', 'ここに',
  ],
  BULK: [
    'all$', 'every', 'entire', 'complete list', 'whole', 'everyone', 'everybody', 'every single', 'full list', 'all of', 'in bulk', 'each$',
    '全員', '全部', '全件', '全て', 'すべて', '丸ごと', '一人残らず', '全顧客', '全社員', '全ユーザー', '全会員', '全利用者', '全従業員', '全患者', '全登録者', '全員分',
  ],
  PEOPLE: [
    'everyone', 'everybody', "everyone's", '全員', 'みんなの', '参加者',
    'customer', 'user$', 'users', 'employee', 'member', 'patient', 'staff', 'client', 'applicant', 'subscriber', 'registrant', 'people', 'account holder', 'student', 'everyone in',
    '顧客', 'ユーザー', '社員', '従業員', '会員', '利用者', '患者', '登録者', '応募者', '職員', '取引先', '生徒', '学生', '来院', 'お客様',
  ],
  PII: [
    'email', 'e-mail', 'phone', 'mobile number', 'address', 'names$', 'name$', 'full name', 'date of birth', 'dates of birth', 'birthday', 'dob$', 'credit card', 'card number', 'password', 'salar', 'ssn$',
    'social security', 'diagnos', 'personal info', 'personal data', 'personal detail', 'contact detail', 'contact info', 'my number', 'passport', 'bank account', 'home address', 'personal information',
    '氏名', '名前', '住所', '電話番号', '携帯番号', 'メールアドレス', 'メアド', '生年月日', 'クレジットカード', 'カード番号', 'パスワード', '給与', 'マイナンバー', '個人情報', '個人データ', '病名', '病歴', '連絡先', '口座番号',
  ],
  EXTRACT: [
    '貼って', '貼り付けて', 'paste it', 'paste',
    'paste them', 'send them', 'as json', 'in json', 'json', '送って', '一覧表', '書き出して', '見せて',
    'list', 'dump', 'export', 'extract', 'pull', 'give me', 'output', 'csv', 'spreadsheet', 'table$', 'return them', 'compile', 'scrape', 'collect',
    '一覧', 'リスト', '抜き出', '抽出', 'エクスポート', '出力', '書き出', 'まとめ', '表に', '出して', '出力して',
  ],
  MANAGE: ['delete', 'deleting', 'deletion', 'erase', 'erasure', 'remove', 'reset', 'rotate', 'rotation', 'expire', 'expiry', 'leaked', 'revoke', 'disable', 'update', 'retention', 'anonymi', 'mask', 'redact',
    '削除', '消去', 'リセット', '有効期限', '変更', '更新', '無効に', '漏えい', 'マスク', '匿名', '保存期間'],
  COUNT: [
    'count', 'how many', 'number of', 'total$', 'aggregate', 'statistic', 'no personal', 'anonymi', 'template', 'mail-merge', 'mail merge', 'my own', 'per prefecture', 'notify all', 'notification',
    '件数', '数え', '何人', '人数', '集計', '統計', '個人の情報は不要', '個人情報は不要', '匿名', 'テンプレート', '列名のみ', '差し込み', '自分の', 'お知らせ', '全部で',
  ],
  SELF: [
    'we received', 'we were given', 'we got', 'our guidelines', 'our rules', 'our instructions',
    'our previous', 'our earlier', 'our last', '我々の', '弊社の',
    'my previous', 'my earlier', 'my last', 'my message', 'i sent', 'i said', 'what i said', 'i wrote', 'my instruction', 'my request', 'my notes', 'my draft', 'i mentioned',
    '私の', '僕の', '自分の', '私が', 'さっきの私', '私のお願い',
  ],
  META: [
    'moderation', 'whether', 'malicious', 'judge', '判定', '悪意', 'モデレーション', 'quiz', 'クイズ', 'answer key', '模範解答', 'post-incident', '事後', 'incident report', 'インシデント報告', 'bulletin', '通報', '注意',
    'example', 'e.g.', 'for example', 'such as', 'is this', 'is it an', 'is the sentence', 'training', 'course', 'workshop', 'awareness', 'detect', 'defend', 'defence', 'defense', 'mitigat', 'protect',
    'classif', 'regex', 'regular expression', 'unit test', 'test case', 'review this', 'code review', 'news', 'researcher', 'reported', 'according to', 'article', 'report', 'blog', 'owasp', 'analys', 'analyz',
    'privacy notice', 'privacy policy', 'data protection', 'compliance', 'prompt injection', 'pentest', 'penetration test', 'experts', 'vendors', 'attack$', 'attacks$', 'attempt', 'suspicious', 'malicious', 'flags the', 'slide', 'speaker notes', 'red-team report', 'security',
    '例', 'とは', '研修', '教育', '検知', '検出', '対策', '防御', '防ぐ', '守る', '分類', '正規表現', 'テスト', 'レビュー', 'ニュース', '記事', '研究者', '報告', '報道', '発表', '論文', '資料', '攻撃', '手口',
    'プライバシー', '個人情報保護', '社内規程', '規程の', 'コンプライアンス', '脆弱性', '専門家', 'スライド', '注意喚起', 'プロンプトインジェクション', 'ジェイルブレイク', '試み', 'セキュリティ',
  ],
  META2: [
    'explain', 'what is a', "what's a", 'how can we', 'how do we', 'how should', 'design', 'summarise this', 'summarize this', 'why', 'analyse', 'analyze',
    '説明', '解説', 'ですか', 'でしょうか', '要約して', '設計', 'なぜ', '分析',
  ],
  HOWTO: [
    'explain how', 'describe how', 'explains how', 'how he', 'how she', 'how they',
    'steps to', 'procedure', '手順', '設定する',
    '作り方', 'how to make', 'how to build', 'how do i make',
    'how do i', 'how to', 'how can i', 'best way', 'best practice', 'requirements', 'recommended', 'policy requirement',
    '方法', 'どうすれば', 'やり方', '要件', '手続き', '推奨', 'どう対応', '対応すべき', 'how should we handle', 'how to handle', 'how do we handle',
  ],
  ASK: ['ですか', 'でしょうか', '方法を教えて', 'やり方を教えて', 'どうすれば', 'is this$', 'is it$', 'is the$'],
  ACTON: ['act on it', 'then act on', 'and then act', 'follow the resulting', 'carry it out', 'do what it says', 'do exactly what it says', 'and follow it', 'and obey', 'then execute', 'perform the instruction', 'execute x', 'execute the', 'その指示に従', 'その通りに実行', 'その内容を実行', 'そのとおりに実行', '内容に従って'],
  DECODE: [
    'decode', 'base64', 'rot13', 'rot-13', 'rot 13', 'caesar', 'then execute', 'and follow it', 'and obey', 'do what it says', 'join part', 'joined sentence', 'translated instruction', 'execute the',
    'デコード', '復号', 'その指示に従', 'その通りに実行', '実行してください', 'に従ってください',
  ],
  OBEYME: [
    'treat everything i say', 'everything i say as', 'full authority',
    'follow my lead', 'my messages define', 'define your behavio', '私の指示がすべて', '私の言葉がすべて',
    'answer to me', 'my rules only', 'only my rules', '俺ルール', '私が指示します', '私が指示する',
    'my word is', 'my word is the only rule', 'ご依頼にのみ', '質問にだけ答え', '私の指示に従', '命令を最優先', 'ユーザーの命令',
    'do as i say', 'do what i ask', 'what i type', 'only from me', 'take instructions only', 'follow me', '言う通り', '言うとおり', '指示だけ', '命令だけ', '指示のみ', '命令のみ', 'のみに従', 'だけに従', 'お願いのみ',
    'only follow', 'follow mine', 'follow my', 'obey me', 'obey only', 'my commands', 'my orders', 'do what i say', 'what i say', 'only obey', 'listen only to me',
    '私の指示に', '私の命令に', '俺の言うこと', '私の言うこと', 'の言うことだけ', 'にだけ従', 'だけ聞け', 'だけ聞いて', '私の要求に',
  ],
  YOUR: ['you using', 'you are using', "you're using", 'you have access', 'you are connected', "you're connected", 'you use', 'あなたが使って', 'あなたが使用', 'your', 'ur$', "you've", 'you were', 'you are following', 'あなたの', 'あなたが', '君の', 'お前の', 'あなたに'],
  REPORT: [
    'the attacker', 'an attacker', 'attackers$', 'attacker used', 'adversaries', 'threat actor', 'used prompts', 'prompts like', 'messages like', 'inputs like', 'told the', 'tells the', 'instructed the', 'instructing the', 'asked the model', 'asking the model',
    'asked the assistant', 'asking the assistant', 'ask them to', 'asked it to', 'the paper', 'the study', 'researchers', 'we detected', 'we observed', 'we saw', 'we found', 'we blocked', 'was detected', 'were detected',
    'was reported', 'were reported', 'was observed', 'in the incident', 'post-mortem', 'postmortem', 'test plan', 'testers will', 'shows that', 'showed that',
    'found that', 'demonstrated', 'tricked', 'evidence', 'attack log', 'in the logs', 'flags phrases', 'whose body', 'the message instructed', 'the email told',
    'という攻撃', 'が報告', 'と報告', '報じ', 'を検知した', '検知しました', '攻撃者', 'によると', 'という入力', 'という文', 'といった', '試験計画', '試験者',
    '再発防止', 'させた', 'させる', '証拠', '攻撃ログ', 'とされ', 'たという', '事例',
  ],
  XFORM: [
    'summari', 'summary of', 'translat', 'paraphras', 'rewrite', 'rephrase', 'restate', 'reword', 'convert',
    '要約', 'まとめて', '翻訳', '訳して', '訳した', '言い換え', '書き直', '変換して',
  ],
  NODETAIL: ['skip any technical', 'skip the technical', 'skip technical', 'no technical detail', 'without technical detail', 'without any technical', '詳細は書かない', '技術的な詳細は書か', '作り方は不要', '方法は不要', '手順は不要', '詳細は不要', '作り方はいらない', '方法は書かないで', '作り方は書かないで', '方法は出さない', '手順は書かないで', 'without explaining', "don't explain", 'do not explain', 'no real method', 'not the device', 'not the method', 'without details', 'no details', 'without the details', 'not how to'],
  CODE: [
    'function', 'array', 'in-memory', 'class$', 'script', 'sample data', 'dummy', 'mock', 'fixture', 'test data', 'schema', 'snippet',
    '関数', '配列', 'コード', 'サンプル', 'ダミー', 'テストデータ', 'スキーマ', 'モック',
  ],
};
