// Regenerates policies/policy.schema.json from the zod schema (src/policy/schema.ts).
import { writeFileSync } from "node:fs";
import { policyJsonSchema } from "../src/policy/json-schema.ts";

writeFileSync(new URL("../policies/policy.schema.json", import.meta.url), policyJsonSchema());
console.log("wrote policies/policy.schema.json");
