import { createHash } from 'node:crypto';

/**
 * Server-rendered pages without a template engine: `html` escapes every interpolated value unless
 * it is itself `html` (a Safe). Small pages, no JavaScript, no external assets.
 */
export class Safe {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (ch) => ESCAPES[ch]!);
}

type Part = Safe | string | number | undefined | null | false | readonly Part[];

function render(part: Part): string {
  if (part === undefined || part === null || part === false) return '';
  if (part instanceof Safe) return part.text;
  if (Array.isArray(part)) return part.map(render).join('');
  return escapeHtml(String(part));
}

export function html(strings: TemplateStringsArray, ...values: Part[]): Safe {
  let out = strings[0]!;
  values.forEach((value, i) => {
    out += render(value) + strings[i + 1]!;
  });
  return new Safe(out);
}

const STYLE = `
  body { font-family: system-ui, sans-serif; max-width: 28rem; margin: 3rem auto; padding: 0 1rem; color: #1b1b1f; }
  h1 { font-size: 1.4rem; }
  label { display: block; margin: 0.8rem 0 0.2rem; }
  input[type=text], input[type=password] { width: 100%; padding: 0.5rem; font-size: 1rem; box-sizing: border-box; }
  button { margin: 1rem 0.5rem 0 0; padding: 0.5rem 1.2rem; font-size: 1rem; }
  .error { color: #a4001d; } .muted { color: #5c5c66; font-size: 0.9rem; }
  li { margin: 0.3rem 0; } code { font-size: 1.1rem; letter-spacing: 0.1rem; }`;

/** For the pages' Content-Security-Policy: the one inline style is allowed by its hash, nothing else inline. */
export const STYLE_HASH = `'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`;

/** A whole page. */
export function page(title: string, body: Safe): string {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · TMCP</title><style>${new Safe(STYLE)}</style></head>
<body>${body}</body></html>`.text;
}
