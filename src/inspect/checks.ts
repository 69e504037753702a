/** Check-digit validators. All take a string of ASCII digits. */

/** 個人番号 (My Number): 12 digits, last is the check digit (行政手続における特定の個人を識別するための番号の利用等に関する法律施行令 第8条). */
export function isValidMyNumber(d: string): boolean {
  if (d.length !== 12) return false;
  let sum = 0;
  for (let n = 1; n <= 11; n++) {
    const p = d.charCodeAt(11 - n) - 48;
    const q = n <= 6 ? n + 1 : n - 5;
    sum += p * q;
  }
  const r = sum % 11;
  const check = r <= 1 ? 0 : 11 - r;
  return check === d.charCodeAt(11) - 48;
}

/** 法人番号 (corporate number): 13 digits, FIRST is the check digit. */
export function isValidCorporateNumber(d: string): boolean {
  if (d.length !== 13) return false;
  let sum = 0;
  for (let n = 1; n <= 12; n++) {
    const p = d.charCodeAt(13 - n) - 48;
    sum += p * (n % 2 === 1 ? 1 : 2);
  }
  const check = 9 - (sum % 9);
  return check === d.charCodeAt(0) - 48;
}

/**
 * 運転免許証番号: 12 digits = public safety commission code (2) + year first licensed (2) +
 * serial (6) + check digit + reissue count. The check digit (11th) is
 * (11 − (Σ wᵢ·dᵢ mod 11)) mod 10 with weights 5 4 3 2 7 6 5 4 3 2 over the first ten digits —
 * a police-agency convention, not a published standard, so a failing number is reported with
 * lower confidence rather than not at all.
 */
const COMMISSION_CODES = new Set([0, 10, 11, 12, 13, 14, 20, 21, 22, 23, 24, 25, 30, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 60, 61, 62, 63, 64, 65, 70, 71, 72, 73, 74, 80, 81, 82, 83, 90, 91, 92, 93, 94, 95, 96, 97]);
const LICENSE_WEIGHTS = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];
export function isValidDriversLicense(d: string): boolean {
  if (d.length !== 12) return false;
  if (!COMMISSION_CODES.has((d.charCodeAt(0) - 48) * 10 + d.charCodeAt(1) - 48)) return false;
  let sum = 0;
  for (let k = 0; k < 10; k++) sum += (d.charCodeAt(k) - 48) * LICENSE_WEIGHTS[k]!;
  return (11 - (sum % 11)) % 10 === d.charCodeAt(10) - 48;
}

export function luhn(d: string): boolean {
  let sum = 0;
  let dbl = false;
  for (let i = d.length - 1; i >= 0; i--) {
    let v = d.charCodeAt(i) - 48;
    if (dbl) {
      v *= 2;
      if (v > 9) v -= 9;
    }
    sum += v;
    dbl = !dbl;
  }
  return sum % 10 === 0;
}

/** EAN-13 / JAN check digit. */
export function isValidEan13(d: string): boolean {
  if (d.length !== 13) return false;
  let sum = 0;
  for (let i = 0; i < 12; i++) sum += (d.charCodeAt(i) - 48) * (i % 2 === 0 ? 1 : 3);
  return (10 - (sum % 10)) % 10 === d.charCodeAt(12) - 48;
}

/** Known issuer prefixes and lengths for payment cards. */
export function cardBrand(d: string): string | undefined {
  const L = d.length;
  const p2 = +d.slice(0, 2);
  const p3 = +d.slice(0, 3);
  const p4 = +d.slice(0, 4);
  if (d[0] === '4' && (L === 13 || L === 16 || L === 19)) return 'visa';
  if (((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) && L === 16) return 'mastercard';
  if ((p2 === 34 || p2 === 37) && L === 15) return 'amex';
  if (p4 >= 3528 && p4 <= 3589 && L >= 16 && L <= 19) return 'jcb';
  if (((p3 >= 300 && p3 <= 305) || p2 === 36 || p2 === 38 || p2 === 39) && L >= 14 && L <= 16) return 'diners';
  if ((p4 === 6011 || p2 === 65 || (p3 >= 644 && p3 <= 649)) && L >= 16 && L <= 19) return 'discover';
  if (p2 === 62 && L >= 16 && L <= 19) return 'unionpay';
  return undefined;
}
