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

describe("records that are not what Gatehouse wrote", () => {
  it("a corrupted proposal record or deployment record is exit 2 naming the file", async () => {
    const { mkdtempSync, mkdirSync, writeFileSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const path = await import("node:path");
    const { readDeployment } = await import("../src/records/deployment.ts");
    const { resolveProposal } = await import("../src/records/proposal.ts");
    const root = mkdtempSync(path.join(tmpdir(), "gatehouse-corrupt-"));
    mkdirSync(path.join(root, "deployments"));
    mkdirSync(path.join(root, "proposals/default"), { recursive: true });
    writeFileSync(path.join(root, "deployments/default.json"), '{"network": "default", ');
    writeFileSync(path.join(root, "proposals/default/aaaaaaaaaaaa.json"), JSON.stringify({ version: 1, id: "aaaaaaaaaaaa" }));
    const errorOf = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e as GatehouseError;
      }
      throw new Error("no error");
    };
    const bad = errorOf(() => readDeployment(root, "default"));
    expect(bad.code).to.equal("GH103");
    expect(bad.exitCode).to.equal(2);
    expect(bad.message).to.match(/deployments\/default\.json: \(file\): valid JSON/);
    const partial = errorOf(() => resolveProposal(root, "default", "aaaaaaaaaaaa"));
    expect(partial.code).to.equal("GH103");
    expect(partial.message).to.match(/proposals\/default\/aaaaaaaaaaaa\.json: \w+/);
  });
});
