import { readFileSync, existsSync } from "node:fs";
import path from "node:path";
import { parse as parseYaml, YAMLParseError } from "yaml";
import type { z } from "zod";
import { GatehouseError } from "../errors.ts";
import { Policy } from "./schema.ts";
import { displayPath } from "../fs/atomic.ts";

/** `contracts.0.name` style path, as users see it in error messages. */
export function formatIssuePath(p: PropertyKey[]): string {
  return p.length === 0 ? "(root)" : p.map((s) => String(s)).join(".");
}

/** Validate data with a zod schema, turning the first issue into a GatehouseError naming file, field and expectation. */
export function parseWith<S extends z.ZodType>(schema: S, data: unknown, file: string, errorName: "POLICY_INVALID" | "FILE_INVALID" = "FILE_INVALID"): z.infer<S> {
  // reportInput: the offending value goes into the issue, so the message can say what was found.
  const result = schema.safeParse(data, { reportInput: true });
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => {
    const { path: p, expected } = explainIssue(i, schema);
    return { path: formatIssuePath(p), expected };
  });
  throw new GatehouseError(errorName, { file, path: issues[0]!.path, expected: issues[0]!.expected }, { details: { issues } });
}

const TYPE_WORDS: Record<string, string> = {
  number: "a number",
  int: "an integer",
  string: "a string",
  boolean: "a boolean (true or false)",
  object: "a mapping of fields",
  array: "a list",
  null: "nothing (null)",
};

/** A short rendering of the value found, for "got ..." (YAML null and missing fields read differently). */
function shown(input: unknown): string {
  if (input === null) return "an empty value";
  if (Array.isArray(input)) return "a list";
  if (typeof input === "object") return "a mapping";
  const text = JSON.stringify(input) ?? String(input);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function got(issue: z.core.$ZodIssue): string {
  return "input" in issue && issue.input !== undefined ? `, got ${shown(issue.input)}` : "";
}

/** zod's own messages ("Too small: expected number to be >0") are replaced; the schema's custom messages are kept. */
function isZodDefault(message: string): boolean {
  return /^(Invalid|Too small|Too big)\b/.test(message);
}

function bound(issue: z.core.$ZodIssueTooSmall | z.core.$ZodIssueTooBig): string {
  const small = issue.code === "too_small";
  const n = Number(small ? issue.minimum : issue.maximum);
  if (issue.origin === "number" || issue.origin === "int" || issue.origin === "bigint") {
    return `a number ${small ? (issue.inclusive ? "of at least" : "greater than") : issue.inclusive ? "of at most" : "less than"} ${n}`;
  }
  const unit = issue.origin === "string" ? "character" : "item";
  const count = issue.inclusive ? n : small ? n + 1 : n - 1;
  return `${small ? "at least" : "at most"} ${count} ${unit}${count === 1 ? "" : "s"}`;
}

/** The fields an object schema at `path` accepts (for "unknown field" messages); undefined if it cannot tell. */
function fieldsAt(schema: z.core.$ZodType, p: PropertyKey[]): string[] | undefined {
  let s: z.core.$ZodType | undefined = schema;
  const unwrap = () => {
    for (let i = 0; i < 10 && s; i++) {
      const def = s._zod.def as { type: string; innerType?: z.core.$ZodType; in?: z.core.$ZodType };
      if (def.innerType) s = def.innerType;
      else if (def.type === "pipe") s = def.in;
      else return;
    }
  };
  for (const key of p) {
    unwrap();
    const def = s?._zod.def as { type: string; shape?: Record<string, z.core.$ZodType>; element?: z.core.$ZodType } | undefined;
    if (def?.type === "object" && typeof key === "string") s = def.shape![key];
    else if (def?.type === "array" && typeof key === "number") s = def.element;
    else return undefined;
  }
  unwrap();
  const def = s?._zod.def as { type: string; shape?: Record<string, z.core.$ZodType> } | undefined;
  return def?.type === "object" ? Object.keys(def.shape!) : undefined;
}

/** Where an issue is and what was expected there, in words a user can act on. */
function explainIssue(issue: z.core.$ZodIssue, schema: z.core.$ZodType): { path: PropertyKey[]; expected: string } {
  const at = (expected: string) => ({ path: issue.path, expected });
  switch (issue.code) {
    case "invalid_type": {
      const what = TYPE_WORDS[issue.expected] ?? issue.expected;
      if ("input" in issue && issue.input === undefined) return at(`expected ${what} (the field is missing)`);
      return at(`expected ${what}${got(issue)}`);
    }
    case "unrecognized_keys": {
      const known = fieldsAt(schema, issue.path);
      const allowed = known ? ` (expected one of: ${known.join(", ")})` : "";
      if (issue.keys.length === 1) return { path: [...issue.path, issue.keys[0]!], expected: `unknown field${allowed}` };
      return at(`unknown fields ${issue.keys.map((k) => `'${k}'`).join(", ")}${allowed}`);
    }
    case "invalid_value": {
      const values = issue.values.map((v) => JSON.stringify(v));
      return at(`expected ${values.length === 1 ? values[0] : `one of ${values.join(", ")}`}${got(issue)}`);
    }
    case "too_small":
    case "too_big":
      return at(`expected ${isZodDefault(issue.message) ? bound(issue) : issue.message}${issue.origin === "array" ? "" : got(issue)}`);
    case "invalid_format":
      return at(`expected ${isZodDefault(issue.message) ? `a string matching ${(issue as { pattern?: string }).pattern ?? issue.format}` : issue.message}${got(issue)}`);
    case "invalid_union": {
      const u = issue as z.core.$ZodIssueInvalidUnion & { options?: unknown[] };
      if (u.errors.length === 0 && u.options) {
        // A discriminated union: the input is the whole entry, the value found is its discriminator field.
        const d = (u as { discriminator?: string }).discriminator;
        const input = (issue as { input?: unknown }).input;
        const found = d && input !== null && typeof input === "object" && d in input ? `, got ${shown((input as Record<string, unknown>)[d])}` : "";
        return at(`expected one of ${u.options.map((v) => JSON.stringify(v)).join(", ")}${found}`);
      }
      // Each alternative failed: when all failed on the value itself, list what each would have accepted.
      if (u.errors.length > 0 && u.errors.every((branch) => branch.some((i) => i.path.length === 0))) {
        const alternatives = [...new Set(u.errors.map((branch) => explainIssue(branch.find((i) => i.path.length === 0)!, schema).expected.replace(/^expected /, "").replace(/, got .*$/, "")))];
        const listed = alternatives.length > 1 ? `${alternatives.slice(0, -1).join(", ")} or ${alternatives.at(-1)}` : alternatives[0];
        return at(`expected ${listed}${got(issue)}`);
      }
      // Otherwise the alternative that came closest (fewest issues) says what is wrong inside the value.
      const closest = [...u.errors].sort((a, b) => a.length - b.length)[0];
      if (closest?.[0]) {
        const inner = explainIssue(closest[0], schema);
        return { path: [...issue.path, ...inner.path], expected: inner.expected };
      }
      return at("expected a value of another shape");
    }
    case "custom":
      // Cross-field rules (superRefine) see the whole policy as input: the message says it all.
      return at(`expected ${issue.message}`);
    default:
      return at(`expected ${issue.message}${got(issue)}`);
  }
}

export function policyPath(root: string, network: string): string {
  return path.join(root, "policies", `${network}.yaml`);
}

/** Load and validate policies/<network>.yaml. Bad YAML or a schema violation is exit 2 with file and field. */
export function loadPolicy(root: string, network: string): Policy {
  const file = policyPath(root, network);
  const rel = displayPath(file);
  if (!existsSync(file)) throw new GatehouseError("POLICY_NOT_FOUND", { file: rel });
  return parsePolicy(readFileSync(file, "utf8"), rel, network);
}

export function parsePolicy(text: string, file: string, network?: string): Policy {
  let data: unknown;
  try {
    // Hex stays text: YAML 1.2 would read an unquoted address (0x5FbD...) as a number and lose it.
    data = parseYaml(text, { customTags: (tags) => tags.filter((t) => (t as { format?: string }).format !== "HEX") });
  } catch (e) {
    const where = e instanceof YAMLParseError && e.linePos ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : "(root)";
    const reason = (e as Error).message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
    throw new GatehouseError("POLICY_INVALID", { file, path: where, expected: `expected valid YAML (${reason})` });
  }
  const policy = parseWith(Policy, data, file, "POLICY_INVALID");
  if (network !== undefined && policy.network !== network) {
    throw new GatehouseError("POLICY_INVALID", { file, path: "network", expected: `expected "${network}" (the policy file's name), got "${policy.network}"` });
  }
  return policy;
}
