// Regenerates the files derived from code: policies/policy.schema.json (from the zod schema in
// src/policy/schema.ts) and docs/errors.md (from the error descriptors in src/errors.ts).
import { mkdirSync, writeFileSync } from "node:fs";
import { policyJsonSchema } from "../src/policy/json-schema.ts";
import { errorsMarkdown } from "../src/errors.ts";

writeFileSync(new URL("../policies/policy.schema.json", import.meta.url), policyJsonSchema());
mkdirSync(new URL("../docs/", import.meta.url), { recursive: true });
writeFileSync(new URL("../docs/errors.md", import.meta.url), errorsMarkdown());
console.log("wrote policies/policy.schema.json and docs/errors.md");
