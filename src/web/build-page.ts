/**
 * Build step for dist/verifier.html (run by tsup.tools.config.ts, never shipped
 * in the library): inlines the bundled page script and the CSS into the HTML
 * template, and pins both with a Content-Security-Policy of their SHA-256
 * hashes and `default-src 'none'`, so the page works from file:// and the
 * browser itself refuses any request to anywhere.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';

function cspHash(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

/** The page as one HTML string (pure). */
export function verifierPageHtml(template: string, css: string, script: string): string {
  // Inside <script>, only "</script" and "<!--" change how HTML reads the text.
  const js = script.replace(/<\/(script)/gi, '<\\/$1');
  if (js.includes('<!--')) throw new Error('page script contains "<!--": cannot inline it safely');
  if (/<\/style/i.test(css)) throw new Error('page CSS contains "</style"');
  const csp = [
    "default-src 'none'",
    `script-src ${cspHash(js)}`,
    `style-src ${cspHash(css)}`,
    "img-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
  const parts: Record<string, string> = { '{{CSP}}': csp, '/*{{CSS}}*/': css, '/*{{SCRIPT}}*/': js };
  // A replacer function, so "$" in the minified script is never read as a replacement pattern.
  return template.replace(/\{\{CSP\}\}|\/\*\{\{CSS\}\}\*\/|\/\*\{\{SCRIPT\}\}\*\//g, (m) => parts[m]!);
}

export function writeVerifierPage(scriptFile: string, outFile: string): void {
  const html = verifierPageHtml(
    readFileSync('src/web/verifier.html', 'utf8'),
    readFileSync('src/web/verifier.css', 'utf8'),
    readFileSync(scriptFile, 'utf8').trim(),
  );
  writeFileSync(outFile, html);
}
