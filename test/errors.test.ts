import { expect } from "chai";
import { readFileSync } from "node:fs";
import { ERRORS, GatehouseError, errorsMarkdown } from "../src/errors.ts";

describe("errors", () => {
  it("have unique stable numbers, and docs/errors.md is in step with them (run `npm run schema`)", () => {
    const numbers = Object.values(ERRORS).map((e) => e.number);
    expect(new Set(numbers).size).to.equal(numbers.length);
    expect(readFileSync("docs/errors.md", "utf8")).to.equal(errorsMarkdown());
  });

  it("render their template with the parameters, keep them as details, and point at their docs", () => {
    const e = new GatehouseError("POLICY_INVALID", { file: "policies/x.yaml", path: "rules.minDelaySeconds", expected: "expected number" });
    expect(e.message).to.equal("policies/x.yaml: rules.minDelaySeconds: expected number");
    expect(e.code).to.equal("GH102");
    expect(e.exitCode).to.equal(2);
    expect(e.details).to.include({ file: "policies/x.yaml" });
    expect(e.docsPath).to.equal("docs/errors.md#gh102");
    expect(errorsMarkdown()).to.contain("## GH102");
  });
});
