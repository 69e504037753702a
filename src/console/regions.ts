/**
 * Where a backend is, for the console's maps: `location.region` (a city, a prefecture, or a
 * cloud region id such as ap-northeast-1) → a place with coordinates. Unknown regions are
 * placed by country on the world view only.
 */
export interface Place {
  /** Stable key, such as tokyo. */
  key: string;
  ja: string;
  en: string;
  lat: number;
  lon: number;
}

const PLACES: Place[] = [
  { key: 'sapporo', ja: '札幌', en: 'Sapporo', lat: 43.06, lon: 141.35 },
  { key: 'ishikari', ja: '石狩', en: 'Ishikari', lat: 43.17, lon: 141.32 },
  { key: 'sendai', ja: '仙台', en: 'Sendai', lat: 38.27, lon: 140.87 },
  { key: 'niigata', ja: '新潟', en: 'Niigata', lat: 37.92, lon: 139.04 },
  { key: 'saitama', ja: '埼玉', en: 'Saitama', lat: 35.86, lon: 139.65 },
  { key: 'chiba', ja: '千葉 (印西)', en: 'Chiba (Inzai)', lat: 35.83, lon: 140.15 },
  { key: 'tokyo', ja: '東京', en: 'Tokyo', lat: 35.68, lon: 139.69 },
  { key: 'yokohama', ja: '横浜', en: 'Yokohama', lat: 35.44, lon: 139.64 },
  { key: 'nagoya', ja: '名古屋', en: 'Nagoya', lat: 35.18, lon: 136.91 },
  { key: 'kanazawa', ja: '金沢', en: 'Kanazawa', lat: 36.56, lon: 136.66 },
  { key: 'kyoto', ja: '京都', en: 'Kyoto', lat: 35.01, lon: 135.77 },
  { key: 'osaka', ja: '大阪', en: 'Osaka', lat: 34.69, lon: 135.5 },
  { key: 'kobe', ja: '神戸', en: 'Kobe', lat: 34.69, lon: 135.2 },
  { key: 'hiroshima', ja: '広島', en: 'Hiroshima', lat: 34.39, lon: 132.46 },
  { key: 'matsue', ja: '松江', en: 'Matsue', lat: 35.47, lon: 133.05 },
  { key: 'takamatsu', ja: '高松', en: 'Takamatsu', lat: 34.34, lon: 134.05 },
  { key: 'fukuoka', ja: '福岡', en: 'Fukuoka', lat: 33.59, lon: 130.4 },
  { key: 'kitakyushu', ja: '北九州', en: 'Kitakyushu', lat: 33.88, lon: 130.88 },
  { key: 'kumamoto', ja: '熊本', en: 'Kumamoto', lat: 32.8, lon: 130.71 },
  { key: 'naha', ja: '那覇', en: 'Naha', lat: 26.21, lon: 127.68 },
];

const ALIASES: Record<string, string> = {
  // cities and prefectures, in Japanese and English
  東京: 'tokyo', 東京都: 'tokyo', 大阪: 'osaka', 大阪府: 'osaka', 札幌: 'sapporo', 北海道: 'sapporo', 石狩: 'ishikari', 仙台: 'sendai', 宮城: 'sendai', 新潟: 'niigata',
  埼玉: 'saitama', 千葉: 'chiba', 印西: 'chiba', inzai: 'chiba', 横浜: 'yokohama', 神奈川: 'yokohama', kanagawa: 'yokohama', 名古屋: 'nagoya', 愛知: 'nagoya', aichi: 'nagoya',
  金沢: 'kanazawa', 石川: 'kanazawa', 京都: 'kyoto', 神戸: 'kobe', 兵庫: 'kobe', hyogo: 'kobe', 広島: 'hiroshima', 松江: 'matsue', 島根: 'matsue', shimane: 'matsue',
  高松: 'takamatsu', 香川: 'takamatsu', 福岡: 'fukuoka', 北九州: 'kitakyushu', 熊本: 'kumamoto', 沖縄: 'naha', 那覇: 'naha', okinawa: 'naha', hokkaido: 'sapporo', miyagi: 'sendai',
  // cloud regions
  'ap-northeast-1': 'tokyo', 'ap-northeast-3': 'osaka', japaneast: 'tokyo', japanwest: 'osaka', 'asia-northeast1': 'tokyo', 'asia-northeast2': 'osaka',
  'jp-tok': 'tokyo', 'jp-osa': 'osaka', 'ap-tokyo-1': 'tokyo', 'ap-osaka-1': 'osaka', 'tyo': 'tokyo', 'osa': 'osaka', 'is1a': 'ishikari', 'is1b': 'ishikari', 'tk1a': 'tokyo', 'tk1b': 'tokyo',
};

const BY_KEY = new Map(PLACES.map((p) => [p.key, p]));

/** The place of a Japanese region, or undefined. */
export function placeOf(country: string, region: string | undefined): Place | undefined {
  if (country !== 'JP' || !region) return undefined;
  const r = region.trim().toLowerCase();
  const key = ALIASES[r] ?? ALIASES[region.trim()] ?? (BY_KEY.has(r) ? r : undefined) ?? PLACES.find((p) => r.includes(p.key))?.key;
  return key ? BY_KEY.get(key) : undefined;
}
