/**
 * A browser without a browser, for the OAuth pages in integration tests: keeps cookies, submits
 * forms, and does not follow redirects (tests look at each). Chromium drives the same pages in the
 * Synapse suite.
 */
export class FormBrowser {
  readonly cookies = new Map<string, string>();

  constructor(readonly baseUrl: string) {}

  private remember(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (value === '' || /max-age=0|expires=thu, 01 jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  private cookieHeader(): Record<string, string> {
    return this.cookies.size ? { cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } : {};
  }

  private absolute(url: string): string {
    return url.startsWith('http') ? url : `${this.baseUrl}${url}`;
  }

  async get(url: string): Promise<Page> {
    const res = await fetch(this.absolute(url), { redirect: 'manual', headers: this.cookieHeader() });
    this.remember(res);
    return Page.from(res);
  }

  async post(url: string, fields: Record<string, string>): Promise<Page> {
    const res = await fetch(this.absolute(url), {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...this.cookieHeader() },
      body: new URLSearchParams(fields).toString(),
    });
    this.remember(res);
    return Page.from(res);
  }
}

export class Page {
  constructor(
    readonly status: number,
    readonly headers: Headers,
    readonly text: string,
  ) {}

  static async from(res: Response): Promise<Page> {
    return new Page(res.status, res.headers, await res.text());
  }

  get location(): string | null {
    return this.headers.get('location');
  }

  /** The hidden and text inputs of the page's forms, by name (the last one wins). */
  inputs(): Record<string, string> {
    const fields: Record<string, string> = {};
    for (const match of this.text.matchAll(/<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)) fields[match[1]!] = match[2]!.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>');
    return fields;
  }
}
