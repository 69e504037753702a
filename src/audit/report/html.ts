/** The residency report as one self-contained HTML page (inline SVG charts, ja and en labels). */
import type { ResidencyCounts } from './counts.js';

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const COLORS = ['#1d4e89', '#00a6a6', '#f4a259', '#bc4b51', '#8cb369', '#5b507a', '#e07a5f', '#3d405b'];

function barChart(title: string, items: { label: string; value: number; color?: string }[], width = 720): string {
  const rowH = 26;
  const labelW = 260;
  const max = Math.max(1, ...items.map((i) => i.value));
  const h = Math.max(1, items.length) * rowH + 52;
  const [ja, en] = title.split(' — ');
  const bars = items
    .map((it, i) => {
      const w = Math.round(((width - labelW - 70) * it.value) / max);
      const y = 44 + i * rowH;
      return `<text x="${labelW - 8}" y="${y + 16}" text-anchor="end" font-size="12">${esc(it.label)}</text>
<rect x="${labelW}" y="${y + 3}" width="${Math.max(w, it.value > 0 ? 2 : 0)}" height="${rowH - 8}" fill="${it.color ?? COLORS[i % COLORS.length]}"/>
<text x="${labelW + w + 6}" y="${y + 16}" font-size="12">${it.value}</text>`;
    })
    .join('\n');
  const empty = items.length === 0 ? `<text x="${labelW}" y="60" font-size="12">— (0)</text>` : '';
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${h}" role="img" aria-label="${esc(title)}">
<text x="0" y="16" font-size="14" font-weight="bold">${esc(ja ?? title)}</text><text x="0" y="34" font-size="13">${esc(en ?? '')}</text>${bars}${empty}</svg>`;
}

export function renderResidencyHtml(c: ResidencyCounts, opts: { tenant: string; note: string; vkey: string; verifyCommand: string; generatedAt: string }): string {
  const ok = c.l3_outside_japan === 0;
  const statement = ok
    ? `<p class="ok">L3 以上の要求が日本の法域外で処理されたことはありません。<br>No L3 request was processed outside Japanese jurisdiction.</p>`
    : `<p class="bad">L3 以上の要求 ${c.l3_outside_japan} 件が日本の法域外で処理されました (索引: ${c.l3_outside_indices.join(', ')})。<br>${c.l3_outside_japan} L3-or-higher request(s) were processed outside Japanese jurisdiction (indices: ${c.l3_outside_indices.join(', ')}).</p>`;
  const byJur = new Map<string, number>();
  for (const r of c.processed) byJur.set(`${r.level} · ${r.country} / ${r.jurisdictions}`, r.count);
  const levelColor: Record<string, string> = { L0: '#8cb369', L1: '#00a6a6', L2: '#1d4e89', L3: '#5b507a', L4: '#bc4b51' };
  const chart1 = barChart(
    '処理された要求: 機密区分 × 処理国 / 運営者の法域 — Requests processed: level × processing country / operator jurisdictions',
    c.processed.map((r) => ({ label: `${r.level} · ${r.country} / ${r.jurisdictions}`, value: r.count, color: levelColor[r.level] ?? '#3d405b' })),
  );
  const chart2 = barChart(
    '拒否された要求 (理由別) — Denied requests by reason',
    Object.entries(c.denials).map(([k, v]) => ({ label: k, value: v, color: '#bc4b51' })),
  );
  const rows = c.processed.map((r) => `<tr><td>${esc(r.level)}</td><td>${esc(r.country)}</td><td>${esc(r.jurisdictions)}</td><td class="n">${r.count}</td></tr>`).join('');
  const denials = Object.entries(c.denials)
    .map(([k, v]) => `<tr><td>${esc(k)}</td><td class="n">${v}</td></tr>`)
    .join('');
  return `<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><title>データ所在報告書 Residency report — ${esc(opts.tenant)}</title>
<style>
body{font-family:"Noto Sans CJK JP","Noto Sans JP","IPAexGothic","Hiragino Sans",sans-serif;margin:32px;color:#222;max-width:900px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px;border-bottom:1px solid #ccc}
.ok{background:#e8f5e9;border-left:6px solid #2e7d32;padding:10px 14px;font-size:15px}
.bad{background:#fdecea;border-left:6px solid #c62828;padding:10px 14px;font-size:15px}
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:3px 8px}td.n{text-align:right}
pre{background:#f6f6f6;padding:8px;font-size:11px;white-space:pre-wrap;word-break:break-all}
.meta{font-size:12px;color:#555}
</style></head><body>
<h1>データ所在報告書 / Residency report</h1>
<p class="meta">${esc(opts.tenant)} — 期間 period: ${esc(c.from)} 〜 ${esc(c.to)} (UTC) — 作成 generated: ${esc(opts.generatedAt)}</p>
<h2>宣言 / Statement</h2>
${statement}
<p class="meta">この件数は、監査ログのチェックポイント (origin <b>${esc(c.checkpoint.origin)}</b>, 木の大きさ tree size <b>${c.checkpoint.size}</b>, 根ハッシュ root hash <b>${esc(c.checkpoint.root)}</b>) の記録 0〜${Math.max(0, c.checkpoint.size - 1)} のうち期間内のものから数えました。
The counts were computed from the entries 0–${Math.max(0, c.checkpoint.size - 1)} of the audit-log checkpoint above that fall in the period.
要求 requests: ${c.requests}; 記録漏れ lost: ${c.lost}; イベント events: ${c.events}.</p>
<h2>図 / Charts</h2>
${chart1}
${chart2}
<h2>表 / Tables</h2>
<table><tr><th>区分 level</th><th>処理国 country</th><th>運営者の法域 operator jurisdictions</th><th>件数 count</th></tr>${rows || '<tr><td colspan="4">—</td></tr>'}</table>
<br><table><tr><th>理由 reason</th><th>件数 count</th></tr>${denials || '<tr><td colspan="2">—</td></tr>'}</table>
<h2>検証 / Verification</h2>
<p class="meta">監査人は次のコマンドで署名・木・件数を再計算できます (ログの運営者を信頼する必要はありません)。
An auditor recomputes the signature, the tree and the counts with (no trust in the operator needed):</p>
<pre>${esc(opts.verifyCommand)}</pre>
<p class="meta">ログの検証鍵 / log verifier key:</p><pre>${esc(opts.vkey)}</pre>
<p class="meta">署名付きチェックポイント / signed checkpoint:</p><pre>${esc(opts.note)}</pre>
</body></html>
`;
}
