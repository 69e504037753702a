/**
 * Text out of the files people keep: plain text, Markdown, CSV/TSV, JSON Lines, Word (.docx)
 * and PDF. Used by `sekisho inspect` for batch scans.
 *
 * Plain text is decoded as UTF-8 (BOM stripped), UTF-16 with a BOM, or — when the bytes are not
 * valid UTF-8 — Shift_JIS, the encoding Excel still writes Japanese CSV in.
 */
import fs from 'node:fs';
import path from 'node:path';

export type DocumentKind = 'text' | 'jsonl' | 'docx' | 'pdf';

const KINDS: Record<string, DocumentKind> = {
  '.txt': 'text',
  '.text': 'text',
  '.md': 'text',
  '.markdown': 'text',
  '.csv': 'text',
  '.tsv': 'text',
  '.log': 'text',
  '.json': 'text',
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.docx': 'docx',
  '.pdf': 'pdf',
};

export const SUPPORTED_EXTENSIONS = Object.keys(KINDS);

export function documentKind(file: string): DocumentKind | undefined {
  return KINDS[path.extname(file).toLowerCase()];
}

export class DocumentError extends Error {
  constructor(
    readonly code: 'unreadable' | 'too_large' | 'unsupported' | 'extract_failed',
    readonly ja: string,
    readonly en: string,
  ) {
    super(en);
  }
}

/** Decodes bytes of a text file: UTF-8 / UTF-16 by BOM, else UTF-8 if valid, else Shift_JIS. */
export function decodeText(buf: Uint8Array): string {
  if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) return new TextDecoder('utf-8').decode(buf.subarray(3));
  if (buf[0] === 0xff && buf[1] === 0xfe) return new TextDecoder('utf-16le').decode(buf.subarray(2));
  if (buf[0] === 0xfe && buf[1] === 0xff) return new TextDecoder('utf-16be').decode(buf.subarray(2));
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(buf);
  } catch {
    try {
      return new TextDecoder('shift_jis').decode(buf);
    } catch {
      return new TextDecoder('utf-8').decode(buf);
    }
  }
}

/** Reads and extracts a document's text. Throws DocumentError with ja/en messages. */
export async function extractText(file: string, maxBytes: number): Promise<string> {
  const kind = documentKind(file);
  if (!kind) {
    throw new DocumentError(
      'unsupported',
      `対応していない形式です (対応: ${SUPPORTED_EXTENSIONS.join(' ')})`,
      `unsupported file type (supported: ${SUPPORTED_EXTENSIONS.join(' ')})`,
    );
  }
  let buf: Buffer;
  try {
    const st = await fs.promises.stat(file);
    if (st.size > maxBytes) {
      throw new DocumentError('too_large', `ファイルが大きすぎます (${st.size} バイト、上限 ${maxBytes})`, `file too large (${st.size} bytes, limit ${maxBytes})`);
    }
    buf = await fs.promises.readFile(file);
  } catch (e) {
    if (e instanceof DocumentError) throw e;
    throw new DocumentError('unreadable', `読めません: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, `cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  try {
    switch (kind) {
      case 'text':
      case 'jsonl':
        return decodeText(buf);
      case 'docx': {
        const mammoth = (await import('mammoth')).default;
        const r = await mammoth.extractRawText({ buffer: buf });
        return r.value;
      }
      case 'pdf': {
        const { extractText: pdfText, getDocumentProxy } = await import('unpdf');
        const pdf = await getDocumentProxy(new Uint8Array(buf));
        const r = await pdfText(pdf, { mergePages: true });
        return r.text;
      }
    }
  } catch (e) {
    throw new DocumentError('extract_failed', `テキストを取り出せません: ${(e as Error).message}`, `cannot extract text: ${(e as Error).message}`);
  }
}

/**
 * The files to scan under the given paths: files as named; directories walked recursively in
 * name order, keeping supported extensions and skipping hidden entries and symbolic links.
 */
export async function collectFiles(paths: string[], maxFiles = 1_000_000): Promise<{ file: string; size: number; named: boolean }[]> {
  const out: { file: string; size: number; named: boolean }[] = [];
  const walk = async (dir: string): Promise<void> => {
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(dir, { withFileTypes: true });
    } catch {
      out.push({ file: dir, size: 0, named: true });
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (out.length >= maxFiles) return;
      if (e.name.startsWith('.')) continue;
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile() && documentKind(p)) {
        const st = await fs.promises.stat(p).catch(() => undefined);
        out.push({ file: p, size: st?.size ?? 0, named: false });
      }
    }
  };
  for (const p of paths) {
    const st = await fs.promises.stat(p).catch(() => undefined);
    if (st?.isDirectory()) await walk(p);
    else out.push({ file: p, size: st?.size ?? 0, named: true });
  }
  return out;
}
