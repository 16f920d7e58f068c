import { z } from "zod";
import { Policy } from "./schema.ts";

/** The JSON schema of a policy file, generated from the zod schema (committed as policies/policy.schema.json). */
export function policyJsonSchema(): string {
  const schema = z.toJSONSchema(Policy, { io: "input", unrepresentable: "any" });
  return JSON.stringify({ ...schema, $id: "https://gatehouse.dev/policy.schema.json", title: "Gatehouse policy" }, null, 2) + "\n";
}
