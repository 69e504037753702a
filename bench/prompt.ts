/**
 * The request every contender gets in `npm run bench:overhead`: an OpenAI chat completion with
 * a ~1 KiB Japanese business prompt (meeting notes of a logistics department; no personal data).
 */
export const SYSTEM_PROMPT = 'あなたは社内業務を支援するアシスタントです。';

export const USER_PROMPT = `以下は当社物流部門の第3四半期定例会議の議事メモです。要点を三つに整理し、来期に向けた改善提案を箇条書きで示してください。

議事メモ：
・首都圏の配送センターでは、繁忙期の出荷量が前年同期比で約一割増加し、午後便の積み込み待ちが慢性化している。
・倉庫管理システムの更新は予定どおり九月末に完了したが、棚番号の付け替え作業が遅れ、誤出荷率が一時的に上昇した。
・燃料費の高騰により、幹線輸送の委託費用が四半期で約八パーセント上昇した。共同配送の拡大と積載率の改善が課題である。
・関西拠点では再配達の削減を目的として、置き配と宅配ロッカーの利用を試行している。初月の再配達率は二ポイント改善した。
・来期は需要予測の精度向上と人員配置の見直しを優先課題とし、十一月中に計画案をまとめる。

経営会議向けに、日本語で簡潔にまとめてください。`;

export function chatBody(model: string, stream: boolean): string {
  return JSON.stringify({
    model,
    messages: [
      { role: 'system', content: SYSTEM_PROMPT },
      { role: 'user', content: USER_PROMPT },
    ],
    temperature: 0.2,
    ...(stream ? { stream: true } : {}),
  });
}
