/**
 * Pseudonym maps persisted per conversation (header `x-sekisho-conversation`), so that the
 * same value gets the same placeholder across the requests of one conversation. A map is
 * stored as an envelope under the subject's key: erasing the subject shreds it. The record
 * id is an HMAC of (subject, conversation), never the ids themselves.
 */
import { hmac } from './aead.js';
import { VaultError } from './errors.js';
import type { Vault } from './vault.js';

const PURPOSE = 'pseudonyms';
/** A serialized map larger than this is refused (bounded input). */
export const MAX_MAP_BYTES = 1024 * 1024;

export class PseudonymMaps {
  constructor(private readonly vault: Vault) {}

  private id(subject: string, conversation: string): string {
    return 'pm:' + hmac(this.vault.subjectHash(subject), 'conversation', conversation).toString('hex');
  }

  /** The stored map, or undefined (none yet, or the subject was erased). Tampering throws. */
  async load(subject: string, conversation: string, requestId?: string): Promise<unknown> {
    try {
      const pt = await this.vault.read(this.id(subject, conversation), 'request', requestId);
      return pt === undefined ? undefined : JSON.parse(pt.toString('utf8'));
    } catch (e) {
      if (e instanceof VaultError && e.code === 'vault_key_erased') return undefined;
      if (e instanceof SyntaxError) throw new VaultError('vault_tampered', '仮名対応表を読めません', 'The pseudonym map cannot be read');
      throw e;
    }
  }

  async save(subject: string, conversation: string, map: unknown, level: string, requestId?: string): Promise<void> {
    const pt = Buffer.from(JSON.stringify(map), 'utf8');
    if (pt.length > MAX_MAP_BYTES) throw new VaultError('vault_input_invalid', '会話の仮名対応表が大きすぎます。新しい会話を始めてください', 'The pseudonym map of this conversation is too large; start a new conversation');
    const row = await this.vault.seal({ id: this.id(subject, conversation), purpose: PURPOSE }, pt, { subject, level, ...(requestId ? { requestId } : {}) });
    pt.fill(0);
    await this.vault.store.putRecords([row]);
  }
}
