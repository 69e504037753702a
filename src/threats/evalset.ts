/**
 * The evaluation set's file format (test/fixtures/threats/*.txt) and the metric: the true
 * positive rate at a false positive rate of at most 1%.
 */
export interface Labelled {
  label: 'attack' | 'benign';
  type: string;
  lang: 'ja' | 'en';
  channel: 'prompt' | 'tool' | 'answer';
  text: string;
}

export function parseEvalSet(src: string): Labelled[] {
  const out: Labelled[] = [];
  let cur: Labelled | undefined;
  for (const line of src.split('\n')) {
    const m = /^@@ (attack|benign) (\S+) (ja|en) (prompt|tool|answer)\s*$/.exec(line);
    if (m) {
      if (cur) out.push({ ...cur, text: cur.text.replace(/\n+$/, '') });
      cur = { label: m[1] as Labelled['label'], type: m[2]!, lang: m[3] as Labelled['lang'], channel: m[4] as Labelled['channel'], text: '' };
    } else if (cur) cur.text += (cur.text ? '\n' : '') + line;
  }
  if (cur) out.push({ ...cur, text: cur.text.replace(/\n+$/, '') });
  return out;
}

/** The lowest threshold whose false positive rate is at most `fpr`, and the TPR there. */
export function tprAtFpr(scored: { label: string; score: number }[], fpr = 0.01): { threshold: number; tpr: number; fpr: number } {
  const benign = scored.filter((s) => s.label === 'benign').map((s) => s.score).sort((a, b) => b - a);
  const attacks = scored.filter((s) => s.label === 'attack').map((s) => s.score);
  const allowed = Math.floor(benign.length * fpr);
  // Scores above benign[allowed] are attacks; ties go to benign (a strict inequality).
  const threshold = benign.length > allowed ? benign[allowed]! : 0;
  const tp = attacks.filter((x) => x > threshold).length;
  const fp = benign.filter((x) => x > threshold).length;
  return { threshold, tpr: attacks.length ? tp / attacks.length : 0, fpr: benign.length ? fp / benign.length : 0 };
}
