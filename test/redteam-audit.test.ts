import { expect } from "chai";
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { PROJECT_ROOT } from "./helpers/fixture.ts";
import { Policy } from "../src/policy/schema.ts";
import { policyRelaxations } from "../src/policy/relaxations.ts";

/** Red team: policy edits a PR can make that the audit (src/policy/relaxations.ts) must name (pure). */
describe("redteam: PR audit, policy relaxations", () => {
  const base = Policy.parse(parseYaml(readFileSync(path.join(PROJECT_ROOT, "policies/localhost.yaml"), "utf8")));
  const edit = (fn: (p: Policy) => void): Policy => {
    const p = structuredClone(base);
    fn(p);
    return Policy.parse(p);
  };
  const paths = (pr: Policy) => policyRelaxations(base, pr).map((r) => r.path);

  it("holds: a new upgrade initializer and a changed evmVersion are named", () => {
    expect(paths(edit((p) => (p.contracts[0]!.upgradeInitializers = ["upgradeToAndCall"])))).to.deep.equal(["contracts.vault.upgradeInitializers"]);
    expect(paths(edit((p) => (p.compiler.evmVersion = "paris")))).to.deep.equal(["compiler"]);
  });

  // Found by the red team (now named): `protectedBranch` is compared by nothing in policyRelaxations. A PR setting it to
  // the attacker's branch, once merged, makes verify, sign and the watcher accept any commit of that
  // branch as "reviewed" (sourceOf / watch setup read policy.protectedBranch).
  it("names a changed protectedBranch", () => {
    expect(paths(edit((p) => (p.protectedBranch = "redteam")))).to.include("protectedBranch");
  });

  // Found by the red team (now named): a new rules.allowedLibraryCalls entry lets `check` accept a delegatecall (e.g.
  // Address.functionDelegateCall) reachable from any entry point; policyRelaxations does not look at it.
  it("names a new allowedLibraryCalls entry", () => {
    const pr = edit((p) => (p.rules.allowedLibraryCalls = [{ function: "@openzeppelin/contracts/utils/Address.sol:Address.functionDelegateCall", reason: "trust me" }]));
    expect(paths(pr)).to.include("rules.allowedLibraryCalls");
  });

  // Found by the red team (now named): a new governance.safe.fallbackHandlers entry makes `doctor` accept a fallback
  // handler of the attacker's choosing on the Safe; policyRelaxations compares only owners and address.
  it("names a new Safe fallback handler", () => {
    const pr = edit((p) => (p.governance.safe.fallbackHandlers = ["0x000000000000000000000000000000000000dEaD"]));
    expect(paths(pr)).to.include("governance.safe.fallbackHandlers");
  });

  it("names any other policy difference, so a field added later never changes silently", () => {
    const pr = edit((p) => (p.contracts[0]!.initializerArgs = ["0x000000000000000000000000000000000000dEaD"]));
    expect(policyRelaxations(base, pr).map((r) => `${r.kind} ${r.path}`)).to.deep.equal(["policy-changed contracts.vault.initializerArgs"]);
    // A tightening of a field a rule judges is not a finding, and the target contract is the upgrade itself.
    expect(paths(edit((p) => ((p.rules.minDelaySeconds += 60), (p.contracts[0]!.contract = "VaultV2Inserted"))))).to.deep.equal([]);
  });
});
