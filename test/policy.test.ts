import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { GatehouseError } from "../src/errors.ts";
import { loadPolicy } from "../src/policy/load.ts";
import { policyJsonSchema } from "../src/policy/json-schema.ts";
import { PROJECT_ROOT, workspace } from "./helpers/fixture.ts";

/**
 * The policy file is what users edit by hand, so the tests read it the way the CLI does (loadPolicy on
 * policies/<network>.yaml) and check what a user sees when they get it wrong: GH102, exit code 2, and a
 * message naming the file, the field and what was expected there.
 */

const POLICIES = path.join(PROJECT_ROOT, "policies");

/** Load policies/default.yaml of a scratch root whose copy of the default policy was edited, expecting GH102. */
function policyError(edit: (yaml: string) => string): GatehouseError {
  const root = workspace((yaml) => {
    const edited = edit(yaml);
    // Guard against an edit that silently matched nothing (the test would then prove nothing).
    if (edited === yaml) throw new Error("the policy edit changed nothing");
    return edited;
  });
  try {
    loadPolicy(root, "default");
  } catch (e) {
    expect(e).to.be.instanceOf(GatehouseError);
    return e as GatehouseError;
  }
  throw new Error("the malformed policy loaded without an error");
}

/** What every malformed-policy error must give the user: the code, the exit code, the file and the field. */
function expectInvalid(e: GatehouseError, field: string, ...expectation: string[]): void {
  expect(e.code).to.equal("GH102");
  expect(e.exitCode).to.equal(2);
  expect(e.message).to.include("policies/default.yaml: ");
  expect(e.details.path).to.equal(field);
  expect(e.message).to.include(`: ${field}: `);
  for (const text of expectation) expect(e.message).to.include(text);
}

describe("policy", () => {
  describe("committed files", () => {
    it("policies/policy.schema.json is generated from the zod schema", () => {
      const committed = readFileSync(path.join(POLICIES, "policy.schema.json"), "utf8");
      // Compared as text: the committed file is what editors validate against, byte for byte.
      expect(committed, "policies/policy.schema.json is stale: run `npm run schema` and commit the result").to.equal(policyJsonSchema());
    });

    it("every committed policies/*.yaml loads for the network it is named after", () => {
      const networks = readdirSync(POLICIES)
        .filter((f) => f.endsWith(".yaml"))
        .map((f) => f.slice(0, -".yaml".length));
      expect(networks).to.include.members(["default", "localhost"]);
      for (const network of networks) {
        const policy = loadPolicy(PROJECT_ROOT, network);
        expect(policy.network, `policies/${network}.yaml`).to.equal(network);
      }
    });
  });

  describe("malformed policies: GH102, exit 2, file + field + expectation", () => {
    it("a missing field", () => {
      const e = policyError((y) => y.replace(/^ {2}minThreshold: 2\n/m, ""));
      expectInvalid(e, "rules.minThreshold", "expected a number", "missing");
    });

    it("a wrong type", () => {
      const e = policyError((y) => y.replace("threshold: 2", "threshold: two"));
      expectInvalid(e, "governance.safe.threshold", "expected a number", '"two"');
    });

    it("a number out of range reads as words, not zod's '>0'", () => {
      const e = policyError((y) => y.replace("threshold: 2", "threshold: 0"));
      expectInvalid(e, "governance.safe.threshold", "expected a number greater than 0", "got 0");
      expect(e.message).not.to.match(/[<>]=?\d/);
    });

    it("an unknown key, with the fields allowed there", () => {
      const e = policyError((y) => y.replace("  executor: open", "  executor: open\n  executors: open"));
      expectInvalid(e, "governance.executors", "unknown field", "expected one of", "executor");
    });

    it("a bad address in owners", () => {
      const e = policyError((y) => y.replace("owners: [account:1, account:2, account:3]", "owners: [0x1234]"));
      expectInvalid(e, "governance.safe.owners.0", "expected a 0x-prefixed 20-byte hex address or account:N", '"0x1234"');
    });

    it("a threshold above the number of owners", () => {
      const e = policyError((y) => y.replace("threshold: 2", "threshold: 4"));
      expectInvalid(e, "governance.safe.threshold", "expected at most the number of owners (3)");
    });

    it("a duplicate contract name", () => {
      const e = policyError((y) => y.replace("- name: registry", "- name: vault"));
      expectInvalid(e, "contracts.1.name", "expected a unique name", "'vault'");
    });

    it("invalid YAML syntax, with its line", () => {
      const e = policyError((y) => y.replace("  executor: open", "  executor: [open"));
      const line = readFileSync(path.join(POLICIES, "default.yaml"), "utf8").split("\n").findIndex((l) => l.startsWith("  executor:")) + 1;
      expect(e.code).to.equal("GH102");
      expect(e.exitCode).to.equal(2);
      expect(e.message).to.include("policies/default.yaml: ").and.include("expected valid YAML");
      // The parser notices the unclosed `[` on the line after it; the user must be pointed near it.
      expect(String(e.details.path)).to.match(/^line \d+, column \d+$/);
      expect(Number(/^line (\d+)/.exec(String(e.details.path))![1])).to.be.within(line, line + 1);
    });

    it("network: not matching the file name", () => {
      const e = policyError((y) => y.replace("network: default", "network: mainnet"));
      expectInvalid(e, "network", 'expected "default"', "file", '"mainnet"');
    });
  });

  it("an unquoted address stays an address (YAML would otherwise read 0x... as a number)", () => {
    const timelock = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
    const root = workspace((y) => y.replace("  delaySeconds: 3600", `  delaySeconds: 3600\n  timelock: ${timelock}`));
    expect(loadPolicy(root, "default").governance.timelock).to.equal(timelock);
  });
});
