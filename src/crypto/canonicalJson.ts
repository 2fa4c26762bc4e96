/**
 * JSON in RFC 8785's canonical form (JCS) for values as JSON.parse gives them: object keys sorted by
 * UTF-16 code units, no whitespace, strings and numbers as ECMAScript serializes them (which is
 * what JCS specifies). What a signature inside a JSON body signs: the body without it, canonical.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    return `{${Object.keys(record)
      .sort()
      .filter((key) => record[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}
