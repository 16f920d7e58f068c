import { readFileSync, existsSync } from "node:fs";
import path from "node:path";
import { parse as parseYaml, YAMLParseError } from "yaml";
import type { z } from "zod";
import { GatehouseError } from "../errors.ts";
import { Policy } from "./schema.ts";

/** `contracts.0.name` style path, as users see it in error messages. */
export function formatIssuePath(p: PropertyKey[]): string {
  return p.length === 0 ? "(root)" : p.map((s) => String(s)).join(".");
}

/** Validate data with a zod schema, turning the first issue into a GatehouseError naming file, field and expectation. */
export function parseWith<S extends z.ZodType>(schema: S, data: unknown, file: string, errorName: "POLICY_INVALID" | "FILE_INVALID" = "FILE_INVALID"): z.infer<S> {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => ({ path: formatIssuePath(i.path), expected: describeIssue(i) }));
  throw new GatehouseError(errorName, { file, path: issues[0]!.path, expected: issues[0]!.expected }, { details: { issues } });
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === "invalid_type") {
    return `expected ${issue.expected}`;
  }
  if (issue.code === "unrecognized_keys") return `unknown field(s) ${issue.keys.map((k) => `'${k}'`).join(", ")}`;
  if (issue.code === "invalid_value") return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
  if (issue.code === "too_small") return `expected ${issue.message.replace(/^Too small: expected /, "")}`;
  return `expected ${issue.message}`;
}

export function policyPath(root: string, network: string): string {
  return path.join(root, "policies", `${network}.yaml`);
}

/** Load and validate policies/<network>.yaml. Bad YAML or a schema violation is exit 2 with file and field. */
export function loadPolicy(root: string, network: string): Policy {
  const file = policyPath(root, network);
  const rel = path.relative(process.cwd(), file) || file;
  if (!existsSync(file)) throw new GatehouseError("POLICY_NOT_FOUND", { file: rel });
  return parsePolicy(readFileSync(file, "utf8"), rel, network);
}

export function parsePolicy(text: string, file: string, network?: string): Policy {
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (e) {
    const where = e instanceof YAMLParseError && e.linePos ? `line ${e.linePos[0].line}` : "(root)";
    throw new GatehouseError("POLICY_INVALID", { file, path: where, expected: `valid YAML (${(e as Error).message.split("\n")[0]})` });
  }
  const policy = parseWith(Policy, data, file, "POLICY_INVALID");
  if (network !== undefined && policy.network !== network) {
    throw new GatehouseError("POLICY_INVALID", { file, path: "network", expected: `'${network}' (the file name), got '${policy.network}'` });
  }
  return policy;
}
