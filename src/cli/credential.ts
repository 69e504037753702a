/**
 * `sekisho credential issue|offer|revoke|list` — the tenant as issuer (admin side).
 * `issue` records the credential and prints an OpenID4VCI offer (URI and QR code) that a
 * wallet or `sekisho login --offer` redeems once.
 */
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import QRCode from 'qrcode';
import { createOffer, offerFor, validateClaims, vaultClaims, type Training } from '../identity/index.js';
import type { LoadedConfig } from '../config/index.js';
import { resolveConfig, withVault } from './common.js';
import { openSharedState } from '../store/shared-state.js';
import { announceRevocation, credentialKeyOf } from '../identity/sessions.js';
import { CliError, cliLang, label, say } from './i18n.js';

type IO = { out: (s: string) => void; err: (s: string) => void };

/** The public origin wallets reach: identity.origin, else the listen address. */
export function originOf(loaded: LoadedConfig): string {
  const c = loaded.config;
  if (c.identity.origin) return c.identity.origin.replace(/\/+$/, '');
  const h = c.listen.host.includes(':') ? `[${c.listen.host}]` : c.listen.host;
  return `http://${h}:${c.listen.port}`;
}

export function defaultWalletFile(): string {
  return process.env.SEKISHO_WALLET ?? path.join(os.homedir(), '.sekisho', 'wallet.json');
}

function trainings(list: string[] | undefined): Training[] {
  return (list ?? []).map((t) => {
    const [id, date] = t.split(':');
    return { id: id ?? '', date: date ?? new Date().toISOString().slice(0, 10) };
  });
}

async function printOffer(io: IO, uri: string, qr: boolean): Promise<void> {
  if (qr) io.err(await QRCode.toString(uri, { type: 'terminal', small: true, errorCorrectionLevel: 'L' }));
  io.out(uri);
}

export async function credential(argv: string[], io: IO): Promise<number> {
  const [verb, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      config: { type: 'string', short: 'c' },
      name: { type: 'string' },
      'employee-id': { type: 'string' },
      department: { type: 'string' },
      role: { type: 'string' },
      clearance: { type: 'string' },
      training: { type: 'string', multiple: true },
      'ttl-days': { type: 'string' },
      'no-qr': { type: 'boolean' },
      pin: { type: 'boolean' },
      json: { type: 'boolean' },
    },
    allowPositionals: true,
    strict: true,
  });
  const loaded = resolveConfig(values.config, io.err);
  const idc = loaded.config.identity;
  const lang = cliLang();
  // personal claims are sealed by the vault (passphrase, HSM or key service)
  return withVault(loaded, 'admin_read', async (vault, store) => {
    const sealed = vaultClaims(vault);
    const claimsOf = (id: string): { name: string; clearance: string; [k: string]: unknown } | null => {
      try {
        return sealed.open(id, 'admin_read') as never;
      } catch {
        return null; // erased (crypto-shredded)
      }
    };
    switch (verb) {
      case 'issue': {
        let claims;
        try {
          claims = validateClaims({
            name: values.name,
            employee_id: values['employee-id'],
            department: values.department,
            role: values.role,
            clearance: (values.clearance ?? 'L0') as never,
            trainings: trainings(values.training),
          });
        } catch (e) {
          throw new CliError({ ja: `資格情報の内容が正しくありません: ${(e as Error).message} (--name, --employee-id, --clearance L0〜L4, --training ID:YYYY-MM-DD)`, en: `Invalid credential claims: ${(e as Error).message} (--name, --employee-id, --clearance L0..L4, --training ID:YYYY-MM-DD)` });
        }
        const ttl = values['ttl-days'] ? Number(values['ttl-days']) : idc.credential_ttl_days;
        if (!Number.isInteger(ttl) || ttl < 1 || ttl > 3650) throw new CliError({ ja: '--ttl-days は 1〜3650 です', en: '--ttl-days must be 1 to 3650' });
        const o = createOffer(store, originOf(loaded), sealed, claims, { credentialTtlDays: ttl, offerTtlS: idc.offer_ttl_s, txCode: !!values.pin });
        if (values.json) {
          io.out(JSON.stringify({ credential_id: o.credentialId, offer_uri: o.uri, offer: o.offer, ...(o.txCode ? { tx_code: o.txCode } : {}) }));
          return 0;
        }
        if (o.txCode) io.err(label({ ja: `取引コード (本人に別の経路で伝えてください): ${o.txCode}`, en: `Transaction code (give it to the person over another channel): ${o.txCode}` }, lang));
        io.err(label({ ja: `資格情報 ${o.credentialId} (${claims.name}, ${claims.clearance}) の発行を申し出ました。ウォレットで QR コードを読むか、sekisho login --offer '<URI>' を実行してください (1 回限り):`, en: `Offered credential ${o.credentialId} (${claims.name}, ${claims.clearance}). Scan the QR code with a wallet, or run sekisho login --offer '<URI>' (single use):` }, lang));
        await printOffer(io, o.uri, !values['no-qr']);
        return 0;
      }
      case 'offer': {
        const id = positionals[0];
        const row = id ? store.identity.credential(id) : undefined;
        if (!row) throw new CliError({ ja: `資格情報 ${id ?? ''} はありません`, en: `No credential ${id ?? ''}` }, 1);
        if (row.revoked_at) throw new CliError({ ja: 'この資格情報は失効しています', en: 'This credential has been revoked' }, 1);
        if (row.issued_at) throw new CliError({ ja: 'この資格情報は発行済みです。新しく発行してください (credential issue)', en: 'This credential has already been issued; issue a new one (credential issue)' }, 1);
        const o = offerFor(store, originOf(loaded), row.id, idc.offer_ttl_s, new Date(), !!values.pin);
        if (o.txCode) io.err(label({ ja: `取引コード (本人に別の経路で伝えてください): ${o.txCode}`, en: `Transaction code (give it to the person over another channel): ${o.txCode}` }, lang));
        await printOffer(io, o.uri, !values['no-qr'] && !values.json);
        return 0;
      }
      case 'revoke': {
        const target = positionals[0];
        if (!target) throw new CliError({ ja: '失効させる資格情報の id または職員番号を指定してください', en: 'Give the credential id or employee id to revoke' });
        const at = new Date().toISOString();
        // the credentials this revokes (for the fan-out to the nodes' sessions)
        const matches = (t: string) =>
          store.identity
            .credentials()
            .filter((r) => !r.revoked_at && (r.id === t || r.employee_id === t || r.subject === t))
            .map((r) => credentialKeyOf({ list: r.status_list, idx: r.status_idx }, r.id));
        let ids = matches(target);
        let n = store.identity.revokeCredential(target, at);
        if (n === 0) {
          const pseudonym = sealed.pseudonym(target);
          ids = matches(pseudonym);
          n = store.identity.revokeCredential(pseudonym, at);
        }
        if (n === 0) throw new CliError({ ja: `有効な資格情報 ${target} はありません`, en: `No active credential ${target}` }, 1);
        if (!loaded.config.redis) {
          io.out(say({ ja: `${n} 件の資格情報を失効させました。そのセッションは ${idc.status_refresh_s} 秒以内に終了します`, en: `Revoked ${n} credential(s); their sessions end within ${idc.status_refresh_s} s` }, lang));
          return 0;
        }
        // Several nodes: end the sessions on every node now (tombstones in Redis, then session.revoked).
        try {
          const shared = await openSharedState(loaded.config);
          try {
            const ended = await announceRevocation(shared.sessions!, shared.bus, ids);
            io.out(say({ ja: `${n} 件の資格情報を失効させ、全ノードに通知しました (終了したセッション: ${ended} 件)`, en: `Revoked ${n} credential(s) and told every node (sessions ended: ${ended})` }, lang));
          } finally {
            await shared.close();
          }
        } catch (e) {
          const err = e as { ja?: string; en?: string; message?: string };
          io.err(say({ ja: `警告: ${err.ja ?? err.message}`, en: `Warning: ${err.en ?? err.message}` }, lang));
          io.out(
            say(
              {
                ja: `${n} 件の資格情報を失効させました。Redis に届かなかったため、そのセッションは各ノードの状態確認で ${idc.status_refresh_s} 秒以内に終了します`,
                en: `Revoked ${n} credential(s). Redis could not be reached, so their sessions end at each node's status check, within ${idc.status_refresh_s} s`,
              },
              lang,
            ),
          );
        }
        return 0;
      }
      case 'list': {
        const rows = store.identity.credentials();
        if (values.json) {
          io.out(JSON.stringify(rows.map((r) => ({ ...r, claims: claimsOf(r.id) }))));
          return 0;
        }
        io.out(['id', 'employee_id', 'name', 'clearance', 'issued', 'expires', 'revoked'].join('\t'));
        for (const r of rows) {
          const c = claimsOf(r.id);
          const erased = label({ ja: '(消去済み)', en: '(erased)' }, lang);
          io.out([r.id, (c?.employee_id as string | undefined) ?? erased, c?.name ?? erased, c?.clearance ?? '-', r.issued_at ?? '-', r.expires_at, r.revoked_at ?? '-'].join('\t'));
        }
        return 0;
      }
      default:
        throw new CliError({ ja: '使い方: sekisho credential issue|offer|revoke|list', en: 'Usage: sekisho credential issue|offer|revoke|list' });
    }
  });
}
