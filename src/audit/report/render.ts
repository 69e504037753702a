/** HTML → PDF (and a PNG screenshot) with playwright-core and the system Chromium. */
import fs from 'node:fs';

export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export function chromiumPath(): string {
  const p = process.env.SEKISHO_CHROMIUM ?? '/usr/bin/chromium';
  if (!fs.existsSync(p)) throw new Error(`Chromium not found at ${p} (set SEKISHO_CHROMIUM) / Chromium が見つかりません`);
  return p;
}

export async function renderPdf(html: string, out: { pdf: string; png?: string }): Promise<void> {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage({ viewport: { width: 1000, height: 1200 } });
    // Offline: the page is self-contained; nothing may be fetched.
    await page.route('**/*', (route) => (route.request().url().startsWith('data:') ? route.continue() : route.abort()));
    await page.setContent(html, { waitUntil: 'load' });
    await page.pdf({ path: out.pdf, format: 'A4', printBackground: true, margin: { top: '12mm', bottom: '12mm', left: '10mm', right: '10mm' } });
    if (out.png) await page.screenshot({ path: out.png, fullPage: true });
  } finally {
    await browser.close();
  }
}
