/**
 * Text that did not come from the chain's typed data (record fields, contract and deployment names,
 * revert reasons, NatSpec) is a claim an attacker may have written: it must never ping anyone, link
 * anywhere, show an image, inject HTML or fake a banner in a post. Renderers mark it where they
 * interpolate it (`untrusted(name)`), so a rendered review is "tagged text": trusted template text with
 * untrusted spans between two private-use sentinels. Each sink then renders the tagged text once, at
 * its edge, for its own syntax (`renderText(text, "markdown" | "slack" | "discord" | "plain" | "raw")`):
 * the escaping lives in one place per sink, not in every template.
 *
 * The sentinels survive string concatenation, JSON (the ledger stores decisions as JSON) and content
 * hashing; `untrusted()` strips them from its input, so untrusted text cannot close its own span.
 *
 * Hand-written on purpose: Markdown escaping libraries escape CommonMark syntax but know nothing of
 * GitHub's own post-processing (@mentions, team mentions, #references, bare-URL autolinks), which is
 * what a malicious name would abuse; Slack's rule is three entities.
 */
const OPEN = "\u{E000}";
/** Opens an untrusted span meant to be shown as code (a storage label, a type, a commit). */
const OPEN_CODE = "\u{E002}";
const CLOSE = "\u{E001}";
const SENTINELS = /[\u{E000}-\u{E002}]/gu;
/** U+2060 WORD JOINER: invisible, and breaks GitHub's, Slack's and Discord's mention and link recognition. */
const WJ = "\u2060";

/** Mark a string as untrusted wherever it is interpolated into a post. */
export function untrusted(value: string | number | null | undefined): string {
  return `${OPEN}${String(value ?? "").replace(SENTINELS, "")}${CLOSE}`;
}

/** Mark a string as untrusted, shown as inline code where the sink has code (a code span is inert). */
export function untrustedCode(value: string | number | null | undefined): string {
  return `${OPEN_CODE}${String(value ?? "").replace(SENTINELS, "")}${CLOSE}`;
}

/** The same value with its marks removed (data, file names, Transaction Builder descriptions). */
export function untag(text: string): string {
  return text.replace(SENTINELS, "");
}

/** Every string in a JSON-like value, untagged (the JSON a sink stores or sends is data, escaped by its reader). */
export function untagData<T>(value: T): T {
  if (typeof value === "string") return untag(value) as T;
  if (Array.isArray(value)) return value.map((v) => untagData(v)) as T;
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [untag(k), untagData(v)])) as T;
  return value;
}

export type TextContext = "markdown" | "slack" | "discord" | "plain" | "raw";

/** One line, no control characters, no bidirectional overrides (they reorder what a reviewer reads). */
export function oneLine(s: string): string {
  return s.replace(/[\p{Cc}\u2028\u2029]+/gu, " ").replace(/[\u202A-\u202E\u2066-\u2069\u200E\u200F]/gu, "");
}

/** No mention (`@everyone`, `@org/team`, e-mail), no bare-URL autolink, no `#123` cross-reference. */
function inert(s: string): string {
  return s
    .replace(/@/g, `@${WJ}`)
    .replace(/:\/\//g, `:${WJ}//`)
    .replace(/\bwww\./gi, (m) => `${m.slice(0, 3)}${WJ}.`)
    .replace(/#(?=\d)/g, `#${WJ}`);
}

/** GitHub-flavoured Markdown: every CommonMark syntax character backslash-escaped, on one line (no block can start). */
export function escapeMarkdown(s: string): string {
  return inert(oneLine(s)).replace(/[\\`*_{}[\]()#+\-.!|<>~&]/g, "\\$&");
}

/** Inside a link's text on one table row (the files index): only what could end the link, the cell or the line. */
export function escapeMarkdownLinkText(s: string): string {
  return inert(oneLine(s)).replace(/[\\`*_[\]|<>~&]/g, "\\$&");
}

/** Discord's Markdown subset, whose escapes differ (`\:` stops emoji and `<t:…>`, `\-` would show). */
export function escapeDiscord(s: string): string {
  return inert(oneLine(s)).replace(/[\\`*_~|[\]()<>#:]/g, "\\$&");
}

/** Slack mrkdwn: the three entities Slack requires (`<!channel>`, `<@U…>`, `<url|text>` become text), and no bare mention. */
export function escapeSlack(s: string): string {
  return slackEntities(inert(oneLine(s)));
}

const slackEntities = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** Plain text (issue titles, JSON summaries): one line, nothing that pings or links. */
export function escapePlain(s: string): string {
  return inert(oneLine(s));
}

/**
 * A code span: no backtick inside (it would close the span), one line, `|` escaped (GFM tables split
 * cells on it even inside code). Mentions, links, HTML and emphasis are not parsed in code spans.
 */
function codeSpan(s: string, pipe: boolean): string {
  // GitHub parses nothing in a code span; the mention and link breaks are kept anyway for readers that would.
  const inner = inert(oneLine(s)).replace(/`/g, "\u02CB") || " ";
  return `\`${pipe ? inner.replace(/\|/g, "\\|") : inner}\``;
}

const noMention = (s: string) => s.replace(/@(?=[\w-])/g, `@${WJ}`);

interface Escapers {
  untrusted: (s: string) => string;
  code: (s: string) => string;
  trusted: (s: string) => string;
}

const ESCAPE: Record<TextContext, Escapers> = {
  // The template's own Markdown is kept; a mention in it (a name a call site forgot to mark) still pings nobody.
  markdown: { untrusted: escapeMarkdown, code: (s) => codeSpan(s, true), trusted: noMention },
  discord: { untrusted: escapeDiscord, code: (s) => codeSpan(s, false), trusted: noMention },
  // Slack needs &, <, > escaped everywhere, template text included.
  slack: { untrusted: escapeSlack, code: (s) => slackEntities(codeSpan(s, false)), trusted: slackEntities },
  plain: { untrusted: escapePlain, code: escapePlain, trusted: noMention },
  raw: { untrusted: (s) => s, code: (s) => s, trusted: (s) => s },
};

/** Render tagged text for one sink: untrusted spans escaped for it, template text kept, sentinels gone. */
export function renderText(text: string, context: TextContext): string {
  const e = ESCAPE[context];
  let out = "";
  let i = 0;
  const opens = /[\u{E000}\u{E002}]/gu;
  for (;;) {
    opens.lastIndex = i;
    const m = opens.exec(text);
    if (!m) break;
    const open = m.index;
    const escape = m[0] === OPEN_CODE ? e.code : e.untrusted;
    const close = text.indexOf(CLOSE, open + 1);
    out += e.trusted(untag(text.slice(i, open)));
    if (close < 0) {
      // An unterminated span (a clipped string): the rest is untrusted.
      return out + e.untrusted(untag(text.slice(open + 1)));
    }
    out += escape(untag(text.slice(open + 1, close)));
    i = close + 1;
  }
  return out + e.trusted(untag(text.slice(i)));
}

/**
 * One line as a terminal shows it, whatever it holds: labels come from records and decoded strings from
 * calldata, and a control character (an ANSI escape that conceals the rest, a newline that fakes a line)
 * or a bidirectional override could hide the warnings below it. Each becomes a visible "?".
 */
export function terminalSafe(line: string): string {
  return line.replace(/[\p{Cc}\u2028\u2029\u202A-\u202E\u2066-\u2069\u200E\u200F]/gu, "?");
}
