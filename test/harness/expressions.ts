/**
 * GitHub Actions expressions (`${{ ... }}`), as documented at
 * https://docs.github.com/actions/learn-github-actions/expressions: literals (null, booleans, numbers
 * including hex and exponents, 'single-quoted' strings with '' as the escape), context access with `.`,
 * `[ ]` and the `.*` object filter (case-insensitive, like GitHub), `!`, `<`, `<=`, `>`, `>=`, `==`, `!=`
 * (loose: different types compare as numbers; strings compare ignoring case), `&&` and `||` (which return
 * an operand, not a boolean), and the functions contains, startsWith, endsWith, format, join, toJSON,
 * fromJSON, hashFiles, success, always, failure, cancelled.
 *
 * hashFiles is a stub: it hashes the glob patterns' text, not the files (the harness has no use for
 * content-addressed cache keys; a test that needs real file hashing must not rely on it).
 */

export type Value = null | boolean | number | string | Value[] | { [key: string]: Value };

export interface StatusFunctions {
  success(): boolean;
  failure(): boolean;
  cancelled(): boolean;
}

export interface EvalContext {
  /** Named contexts: github, env, inputs, secrets, vars, matrix, needs, steps, job, runner, strategy. */
  contexts: Record<string, Value | undefined>;
  status?: StatusFunctions;
}

export class ExpressionError extends Error {}

// ------------------------------------------------------------------ tokens

type Token =
  | { kind: "num"; value: number }
  | { kind: "str"; value: string }
  | { kind: "ident"; value: string }
  | { kind: "op"; value: string }
  | { kind: "eof" };

const OPS = ["==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "(", ")", "[", "]", ".", ",", "*"];

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const ch = src[i]!;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (ch === "'") {
      let value = "";
      i++;
      for (;;) {
        if (i >= src.length) throw new ExpressionError(`unterminated string in: ${src}`);
        if (src[i] === "'") {
          if (src[i + 1] === "'") {
            value += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += src[i++];
      }
      tokens.push({ kind: "str", value });
      continue;
    }
    // GitHub expressions have no arithmetic, so a sign always belongs to a number literal.
    const num = /^(0x[0-9a-fA-F]+|[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)/.exec(src.slice(i));
    if (num) {
      tokens.push({ kind: "num", value: num[1]!.startsWith("0x") ? parseInt(num[1]!, 16) : Number(num[1]) });
      i += num[1]!.length;
      continue;
    }
    const ident = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(src.slice(i));
    if (ident) {
      tokens.push({ kind: "ident", value: ident[0] });
      i += ident[0].length;
      continue;
    }
    const op = OPS.find((o) => src.startsWith(o, i));
    if (!op) throw new ExpressionError(`unexpected '${ch}' at ${i} in: ${src}`);
    tokens.push({ kind: "op", value: op });
    i += op.length;
  }
  tokens.push({ kind: "eof" });
  return tokens;
}

// ------------------------------------------------------------------ syntax tree

type Node =
  | { t: "lit"; value: Value }
  | { t: "ctx"; name: string }
  | { t: "prop"; obj: Node; key: Node }
  | { t: "filter"; obj: Node }
  | { t: "not"; arg: Node }
  | { t: "bin"; op: string; left: Node; right: Node }
  | { t: "call"; name: string; args: Node[] };

class Parser {
  private pos = 0;
  private readonly tokens: Token[];
  private readonly src: string;

  constructor(src: string) {
    this.src = src;
    this.tokens = tokenize(src);
  }

  parse(): Node {
    const node = this.or();
    if (this.peek().kind !== "eof") throw new ExpressionError(`unexpected ${this.describe(this.peek())} in: ${this.src}`);
    return node;
  }

  private peek(): Token {
    return this.tokens[this.pos]!;
  }

  private next(): Token {
    return this.tokens[this.pos++]!;
  }

  private isOp(value: string): boolean {
    const t = this.peek();
    return t.kind === "op" && t.value === value;
  }

  private expectOp(value: string): void {
    if (!this.isOp(value)) throw new ExpressionError(`expected '${value}' but found ${this.describe(this.peek())} in: ${this.src}`);
    this.pos++;
  }

  private describe(t: Token): string {
    return t.kind === "eof" ? "the end" : `'${String(t.value)}'`;
  }

  private or(): Node {
    let left = this.and();
    while (this.isOp("||")) {
      this.pos++;
      left = { t: "bin", op: "||", left, right: this.and() };
    }
    return left;
  }

  private and(): Node {
    let left = this.equality();
    while (this.isOp("&&")) {
      this.pos++;
      left = { t: "bin", op: "&&", left, right: this.equality() };
    }
    return left;
  }

  private equality(): Node {
    let left = this.comparison();
    while (this.isOp("==") || this.isOp("!=")) {
      const op = (this.next() as { value: string }).value;
      left = { t: "bin", op, left, right: this.comparison() };
    }
    return left;
  }

  private comparison(): Node {
    let left = this.unary();
    while (this.isOp("<") || this.isOp("<=") || this.isOp(">") || this.isOp(">=")) {
      const op = (this.next() as { value: string }).value;
      left = { t: "bin", op, left, right: this.unary() };
    }
    return left;
  }

  private unary(): Node {
    if (this.isOp("!")) {
      this.pos++;
      return { t: "not", arg: this.unary() };
    }
    return this.postfix();
  }

  private postfix(): Node {
    let node = this.primary();
    for (;;) {
      if (this.isOp(".")) {
        this.pos++;
        const t = this.next();
        if (t.kind === "op" && t.value === "*") node = { t: "filter", obj: node };
        else if (t.kind === "ident") node = { t: "prop", obj: node, key: { t: "lit", value: t.value } };
        else throw new ExpressionError(`expected a property name after '.' in: ${this.src}`);
      } else if (this.isOp("[")) {
        this.pos++;
        if (this.isOp("*")) {
          this.pos++;
          node = { t: "filter", obj: node };
        } else {
          node = { t: "prop", obj: node, key: this.or() };
        }
        this.expectOp("]");
      } else {
        return node;
      }
    }
  }

  private primary(): Node {
    const t = this.next();
    if (t.kind === "num" || t.kind === "str") return { t: "lit", value: t.value };
    if (t.kind === "op" && t.value === "(") {
      const node = this.or();
      this.expectOp(")");
      return node;
    }
    if (t.kind === "ident") {
      if (t.value === "true" || t.value === "false") return { t: "lit", value: t.value === "true" };
      if (t.value === "null") return { t: "lit", value: null };
      if (this.isOp("(")) {
        this.pos++;
        const args: Node[] = [];
        if (!this.isOp(")")) {
          args.push(this.or());
          while (this.isOp(",")) {
            this.pos++;
            args.push(this.or());
          }
        }
        this.expectOp(")");
        return { t: "call", name: t.value.toLowerCase(), args };
      }
      return { t: "ctx", name: t.value.toLowerCase() };
    }
    throw new ExpressionError(`unexpected ${this.describe(t)} in: ${this.src}`);
  }
}

// ------------------------------------------------------------------ semantics

function isObject(v: Value | undefined): v is { [key: string]: Value } {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Arrays made by the `.*` filter: a property access on them applies to each element. */
const filtered = new WeakSet<Value[]>();

function filteredArray(items: Value[]): Value[] {
  filtered.add(items);
  return items;
}

/** Object keys are case-insensitive in GitHub expressions. */
function getProperty(obj: Value | undefined, key: Value): Value {
  if (Array.isArray(obj) && filtered.has(obj)) return filteredArray(obj.map((x) => getProperty(x, key)).filter((x) => x !== null));
  if (Array.isArray(obj)) {
    const n = toNumber(key);
    return Number.isInteger(n) && n >= 0 && n < obj.length ? obj[n]! : null;
  }
  if (!isObject(obj)) return null;
  const k = toStringValue(key);
  if (k in obj) return obj[k] ?? null;
  const lower = k.toLowerCase();
  const found = Object.keys(obj).find((x) => x.toLowerCase() === lower);
  return found === undefined ? null : (obj[found] ?? null);
}

export function truthy(v: Value | undefined): boolean {
  if (v === null || v === undefined) return false;
  if (typeof v === "boolean") return v;
  if (typeof v === "number") return v !== 0 && !Number.isNaN(v);
  if (typeof v === "string") return v.length > 0;
  return true;
}

function toNumber(v: Value | undefined): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "number") return v;
  if (typeof v === "string") {
    const s = v.trim();
    if (s === "") return 0;
    if (/^0x[0-9a-f]+$/i.test(s)) return parseInt(s, 16);
    return /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s) ? Number(s) : Number.NaN;
  }
  return Number.NaN;
}

/** How a value becomes text in `${{ }}` interpolation and in string functions. */
export function toStringValue(v: Value | undefined): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "string") return v;
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "number") return Number.isNaN(v) ? "NaN" : String(v);
  return JSON.stringify(v, null, 2);
}

function looseEquals(a: Value, b: Value): boolean {
  if (typeof a === "string" && typeof b === "string") return a.toLowerCase() === b.toLowerCase();
  if (a === null && b === null) return true;
  if (typeof a === typeof b && typeof a !== "object") return a === b;
  if (typeof a === "object" && typeof b === "object" && a !== null && b !== null) return a === b;
  const x = toNumber(a);
  const y = toNumber(b);
  return !Number.isNaN(x) && !Number.isNaN(y) && x === y;
}

function compare(op: string, a: Value, b: Value): boolean {
  let x: number | string;
  let y: number | string;
  if (typeof a === "string" && typeof b === "string") {
    x = a.toLowerCase();
    y = b.toLowerCase();
  } else {
    x = toNumber(a);
    y = toNumber(b);
    if (Number.isNaN(x) || Number.isNaN(y)) return false;
  }
  switch (op) {
    case "<":
      return x < y;
    case "<=":
      return x <= y;
    case ">":
      return x > y;
    default:
      return x >= y;
  }
}

function fromJsonValue(text: string): Value {
  try {
    return JSON.parse(text) as Value;
  } catch (e) {
    throw new ExpressionError(`fromJSON: not JSON: ${JSON.stringify(text)} (${(e as Error).message})`);
  }
}

function formatString(template: string, args: Value[]): string {
  let out = "";
  for (let i = 0; i < template.length; i++) {
    const ch = template[i]!;
    if (ch === "{" && template[i + 1] === "{") {
      out += "{";
      i++;
    } else if (ch === "}" && template[i + 1] === "}") {
      out += "}";
      i++;
    } else if (ch === "{") {
      const end = template.indexOf("}", i);
      const index = end === -1 ? Number.NaN : Number(template.slice(i + 1, end));
      if (!Number.isInteger(index) || index < 0 || index >= args.length) throw new ExpressionError(`format: bad placeholder in '${template}'`);
      out += toStringValue(args[index]);
      i = end;
    } else if (ch === "}") {
      throw new ExpressionError(`format: unmatched '}' in '${template}'`);
    } else {
      out += ch;
    }
  }
  return out;
}

const STATUS_FUNCTIONS = new Set(["success", "always", "failure", "cancelled"]);

function evaluateNode(node: Node, ctx: EvalContext): Value {
  switch (node.t) {
    case "lit":
      return node.value;
    case "ctx": {
      if (!(node.name in ctx.contexts)) throw new ExpressionError(`unknown context '${node.name}' (available here: ${Object.keys(ctx.contexts).join(", ")})`);
      return ctx.contexts[node.name] ?? null;
    }
    case "prop":
      return getProperty(evaluateNode(node.obj, ctx), evaluateNode(node.key, ctx));
    case "filter": {
      const v = evaluateNode(node.obj, ctx);
      if (Array.isArray(v)) return filteredArray(filtered.has(v) ? v.flatMap((x) => (Array.isArray(x) ? x : isObject(x) ? Object.values(x) : [])) : [...v]);
      return filteredArray(isObject(v) ? Object.values(v) : []);
    }
    case "not":
      return !truthy(evaluateNode(node.arg, ctx));
    case "bin": {
      if (node.op === "&&") {
        const l = evaluateNode(node.left, ctx);
        return truthy(l) ? evaluateNode(node.right, ctx) : l;
      }
      if (node.op === "||") {
        const l = evaluateNode(node.left, ctx);
        return truthy(l) ? l : evaluateNode(node.right, ctx);
      }
      const l = evaluateNode(node.left, ctx);
      const r = evaluateNode(node.right, ctx);
      if (node.op === "==") return looseEquals(l, r);
      if (node.op === "!=") return !looseEquals(l, r);
      return compare(node.op, l, r);
    }
    case "call":
      return callFunction(node, ctx);
  }
}

function callFunction(node: Extract<Node, { t: "call" }>, ctx: EvalContext): Value {
  const args = () => node.args.map((a) => evaluateNode(a, ctx));
  const arity = (min: number, max = min) => {
    if (node.args.length < min || node.args.length > max) throw new ExpressionError(`${node.name}() takes ${min === max ? min : `${min} to ${max}`} argument(s), got ${node.args.length}`);
  };
  const status = ctx.status;
  switch (node.name) {
    case "success":
    case "failure":
    case "cancelled":
    case "always": {
      arity(0);
      if (node.name === "always") return true;
      if (!status) throw new ExpressionError(`${node.name}() is only available in 'if' conditions`);
      return status[node.name]();
    }
    case "contains": {
      arity(2);
      const [hay, needle] = args() as [Value, Value];
      if (Array.isArray(hay)) return hay.some((x) => looseEquals(x, needle));
      return toStringValue(hay).toLowerCase().includes(toStringValue(needle).toLowerCase());
    }
    case "startswith": {
      arity(2);
      const [a, b] = args();
      return toStringValue(a).toLowerCase().startsWith(toStringValue(b).toLowerCase());
    }
    case "endswith": {
      arity(2);
      const [a, b] = args();
      return toStringValue(a).toLowerCase().endsWith(toStringValue(b).toLowerCase());
    }
    case "format": {
      if (node.args.length < 1) throw new ExpressionError("format() needs a format string");
      const [template, ...rest] = args();
      return formatString(toStringValue(template), rest as Value[]);
    }
    case "join": {
      arity(1, 2);
      const [items, sep] = args();
      const separator = node.args.length > 1 ? toStringValue(sep) : ",";
      return Array.isArray(items) ? items.map(toStringValue).join(separator) : toStringValue(items);
    }
    case "tojson":
      arity(1);
      return JSON.stringify(args()[0] ?? null, null, 2);
    case "fromjson":
      arity(1);
      return fromJsonValue(toStringValue(args()[0]));
    case "hashfiles": {
      // Stub (see the header): a stable value derived from the patterns, not from file contents.
      const text = args().map(toStringValue).join("\n");
      let h = 0x811c9dc5;
      for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
      return `stub-${h.toString(16).padStart(8, "0")}`;
    }
    default:
      throw new ExpressionError(`unknown function '${node.name}()'`);
  }
}

export function parseExpression(src: string): Node {
  return new Parser(src).parse();
}

export function evaluate(src: string, ctx: EvalContext): Value {
  return evaluateNode(parseExpression(src), ctx);
}

function usesStatusFunction(node: Node): boolean {
  switch (node.t) {
    case "call":
      return STATUS_FUNCTIONS.has(node.name) || node.args.some(usesStatusFunction);
    case "prop":
      return usesStatusFunction(node.obj) || usesStatusFunction(node.key);
    case "filter":
      return usesStatusFunction(node.obj);
    case "not":
      return usesStatusFunction(node.arg);
    case "bin":
      return usesStatusFunction(node.left) || usesStatusFunction(node.right);
    default:
      return false;
  }
}

// ------------------------------------------------------------------ templates

/** The `${{ ... }}` spans of a string, with `}}` inside string literals not ending a span. */
export function templateSpans(text: string): { start: number; end: number; expr: string }[] {
  const spans: { start: number; end: number; expr: string }[] = [];
  let i = 0;
  while ((i = text.indexOf("${{", i)) !== -1) {
    let j = i + 3;
    let inString = false;
    for (; j < text.length; j++) {
      if (text[j] === "'") inString = !inString;
      else if (!inString && text.startsWith("}}", j)) break;
    }
    if (j >= text.length) throw new ExpressionError(`unterminated \${{ in: ${text}`);
    spans.push({ start: i, end: j + 2, expr: text.slice(i + 3, j).trim() });
    i = j + 2;
  }
  return spans;
}

/** A string with every `${{ }}` replaced by its value as text. */
export function interpolate(text: string, ctx: EvalContext): string {
  let out = "";
  let last = 0;
  for (const s of templateSpans(text)) {
    out += text.slice(last, s.start) + toStringValue(evaluate(s.expr, ctx));
    last = s.end;
  }
  return out + text.slice(last);
}

/**
 * A YAML value that may be an expression: a string that is exactly one `${{ }}` keeps the value's type
 * (e.g. `matrix: ${{ fromJSON(...) }}`), other strings are interpolated, objects and arrays recursively.
 */
export function evaluateValue(value: unknown, ctx: EvalContext): Value {
  if (typeof value === "string") {
    const spans = templateSpans(value);
    if (spans.length === 1 && spans[0]!.start === 0 && spans[0]!.end === value.length) return evaluate(spans[0]!.expr, ctx);
    return spans.length ? interpolate(value, ctx) : value;
  }
  if (Array.isArray(value)) return value.map((v) => evaluateValue(v, ctx));
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, evaluateValue(v, ctx)]));
  if (value === undefined) return null;
  return value as Value;
}

/**
 * A job's or step's `if:`: with or without `${{ }}`, and with GitHub's implicit `success() &&` when the
 * condition calls no status function. An absent condition is `success()`.
 */
export function evaluateCondition(condition: unknown, ctx: EvalContext): boolean {
  if (condition === undefined || condition === null || condition === "") return ctx.status ? ctx.status.success() : true;
  if (typeof condition === "boolean") return condition && (ctx.status ? ctx.status.success() : true);
  let src = String(condition).trim();
  const spans = templateSpans(src);
  if (spans.length === 1 && spans[0]!.start === 0 && spans[0]!.end === src.length) src = spans[0]!.expr;
  else if (spans.length) src = `'${interpolate(src, ctx).replace(/'/g, "''")}'`;
  const node = parseExpression(src);
  const value = truthy(evaluateNode(node, ctx));
  if (usesStatusFunction(node)) return value;
  return (ctx.status ? ctx.status.success() : true) && value;
}
