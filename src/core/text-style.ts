/**
 * A file's text style: its byte order mark and line endings. kopiashare renders and edits text with LF
 * and no BOM; a file that had CRLF line endings or a BOM keeps them, and comparisons (is this file what
 * kopiashare generates, or a hand edit?) ignore them. Pure string functions.
 */

const BOM = "\uFEFF";

/** The text without a BOM and with LF line endings: what two files are compared as. */
export function normalizeText(text: string): string {
  const t = text.startsWith(BOM) ? text.slice(1) : text;
  return t.includes("\r\n") ? t.replace(/\r\n/g, "\n") : t;
}

/** Whether two texts differ only in BOM and line endings (or not at all). */
export function sameText(a: string | null | undefined, b: string | null | undefined): boolean {
  if (a === b) return true;
  if (a == null || b == null) return false;
  return normalizeText(a) === normalizeText(b);
}

/** Whether a text's line endings are CRLF: most of its line breaks are. */
export function usesCrlf(text: string): boolean {
  const lf = text.split("\n").length - 1;
  if (lf === 0) return false;
  const crlf = text.split("\r\n").length - 1;
  return crlf * 2 >= lf;
}

/**
 * `after` in the style of `before`: the same BOM (or none) and, when `before` uses CRLF, CRLF on every
 * line, including lines an edit added with LF. A new file (no `before`) is left as rendered.
 */
export function keepStyle(before: string | null, after: string): string {
  if (before === null) return after;
  let out = normalizeText(after);
  if (usesCrlf(before)) out = out.replace(/\n/g, "\r\n");
  if (before.startsWith(BOM)) out = BOM + out;
  // an `after` that already had exactly this style (unchanged file) comes back byte for byte
  return sameText(out, after) && out.length === after.length ? after : out;
}
