/**
 * C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint): the signed note body
 *   <origin>\n<tree size, decimal>\n<base64 root hash>\n[extension lines]
 */
import { AuditError } from './errors.js';
import { openNote, signNote, type Signer, type Verifier } from './note.js';
import type { Hash } from './merkle.js';

export interface Checkpoint {
  origin: string;
  size: number;
  root: Hash;
  extensions: string[];
}

export function checkpointBody(c: Checkpoint): string {
  return `${c.origin}\n${c.size}\n${c.root.toString('base64')}\n${c.extensions.map((e) => e + '\n').join('')}`;
}

export function parseCheckpointBody(text: string): Checkpoint {
  const bad = (why: string) => new AuditError('bad_checkpoint', `チェックポイントが不正です: ${why}`, `malformed checkpoint: ${why}`);
  const lines = text.split('\n');
  if (lines.pop() !== '' || lines.length < 3) throw bad('expected origin, size and root hash lines');
  const [origin, sizeText, rootText, ...extensions] = lines as [string, string, string, ...string[]];
  if (!origin) throw bad('empty origin');
  if (!/^(0|[1-9][0-9]{0,15})$/.test(sizeText)) throw bad('the size is not a decimal number without leading zeros');
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) throw bad('the size is too large');
  const root = Buffer.from(rootText, 'base64');
  if (root.length !== 32 || root.toString('base64') !== rootText) throw bad('the root hash is not 32 bytes of base64');
  for (const e of extensions) if (e === '') throw bad('empty extension line');
  return { origin, size, root, extensions };
}

export function signCheckpoint(c: Checkpoint, signer: Signer): string {
  return signNote(checkpointBody(c), [signer]);
}

/** Verify a signed checkpoint against the log's verifier and its origin. */
export function openCheckpoint(note: string, log: Verifier, origin = log.name): { checkpoint: Checkpoint; text: string } {
  const { text } = openNote(note, [log]);
  const checkpoint = parseCheckpointBody(text);
  if (checkpoint.origin !== origin) {
    throw new AuditError('wrong_origin', `チェックポイントの origin が ${checkpoint.origin} です (期待値 ${origin})`, `the checkpoint origin is ${checkpoint.origin}, expected ${origin}`);
  }
  return { checkpoint, text };
}
