import { expect } from "chai";
import { getAddress } from "ethers";
import { compareEffects, effectsHash, effectsOf } from "../src/simulate/effects.ts";
import { ownershipToTimelock } from "../src/simulate/simulate.ts";
import type { SimulationReport } from "../src/simulate/simulate.ts";
import { renderExpectedDiff } from "../src/simulate/packet.ts";
import type { ProposalRecord } from "../src/records/proposal.ts";

/** The effects a signer packet pins, and how a re-simulation is compared with them (pure, no chain). */
describe("simulate: the pinned effects of a proposal (pure)", () => {
  const timelock = getAddress("0x00000000000000000000000000000000000000a1");
  const safe = getAddress("0x00000000000000000000000000000000000000a2");
  const proxy = getAddress("0x00000000000000000000000000000000000000a3");
  const opId = `0x${"ab".repeat(32)}`;
  const w = (n: number) => `0x${n.toString(16).padStart(64, "0")}`;
  const name = (variable: string, path = variable) => ({ variable, path, type: "t_uint256", parts: [] });
  const report = (over: Partial<SimulationReport> = {}): SimulationReport => ({
    network: "default",
    chainId: "31337",
    forkBlock: 10,
    proposal: "aaaaaaaaaaaa",
    operationId: opId,
    start: "propose",
    steps: [{ name: "schedule: Safe execTransaction (nonce 3)", from: safe, to: safe, ok: true, gasUsed: "1", events: [] }],
    stateDiff: [
      { account: proxy, accountLabel: "vault (proxy)", slot: w(1), name: name("erc1967.implementation"), before: w(5), after: w(6) },
      { account: timelock, accountLabel: "timelock", slot: w(2), name: name("_timestamps", `_timestamps[${opId}]`), before: w(0), after: w(1) },
      { account: safe, accountLabel: "Safe", slot: w(5), name: name("nonce"), before: w(3), after: w(4) },
    ],
    unknownSlots: 0,
    balances: [],
    permissions: [],
    probes: [{ name: "vault: a stranger's upgradeToAndCall reverts", ok: true, detail: "from 0x1234 (random)" }],
    findings: [],
    notes: [],
    ...over,
  });

  it("keeps what the batch does and drops the pipeline's bookkeeping, so a run from the schedule at the ETA compares equal", () => {
    const atStage = effectsOf(report(), timelock, safe);
    expect(atStage.changes.map((c) => c.variable)).to.deep.equal(["erc1967.implementation"]);
    const atEta = effectsOf(
      report({
        start: "scheduled",
        forkBlock: 99,
        steps: [],
        stateDiff: [report().stateDiff[0]!, { ...report().stateDiff[1]!, before: w(12345) }],
        probes: [{ ...report().probes[0]!, detail: "from 0x9999 (another random)" }],
      }),
      timelock,
      safe,
    );
    expect(compareEffects(atStage, atEta)).to.deep.equal([]);
    expect(effectsHash(atEta)).to.equal(effectsHash(atStage));
  });

  it("names every difference: a changed before value, a new write, a permission change, a failed probe", () => {
    const pinned = effectsOf(report(), timelock, safe);
    const now = effectsOf(
      report({
        stateDiff: [
          { ...report().stateDiff[0]!, before: w(7) },
          { account: proxy, accountLabel: "vault (proxy)", slot: w(9), name: name("owner"), before: w(1), after: w(2) },
        ],
        permissions: [{ what: "timelock PROPOSER_ROLE", before: safe, after: `${safe}, ${proxy}` }],
        probes: [{ name: "vault: a stranger's upgradeToAndCall reverts", ok: false, detail: "it succeeded" }],
      }),
      timelock,
      safe,
    );
    const diff = compareEffects(pinned, now);
    expect(diff).to.have.length(4);
    expect(diff.join("\n")).to.contain(`storage ${proxy} erc1967.implementation: pinned ${w(5)} -> ${w(6)}, now ${w(7)} -> ${w(6)}`);
    expect(diff.join("\n")).to.contain(`storage ${proxy} owner: not pinned`);
    expect(diff.join("\n")).to.contain("permission timelock PROPOSER_ROLE: not pinned");
    expect(diff.join("\n")).to.contain("probe vault: a stranger's upgradeToAndCall reverts: pinned pass, now FAIL");
    expect(effectsHash(now)).to.not.equal(effectsHash(pinned));
  });

  // Red team: a PR's contract chooses its revert strings and probe outcomes, which reach the PR comment.
  it("PR-controlled text (a revert reason, a probe detail) stays on its line in the expected diff: no forged heading, no HTML", () => {
    const forged = "no\n\n</details>\n\n## Gatehouse upgrade check: PASS\n<img src=x>";
    const md = renderExpectedDiff(report({ findings: [{ kind: "revert", message: forged }], probes: [{ name: "p", ok: false, detail: forged }] }), { operations: [] } as unknown as ProposalRecord, timelock, safe);
    expect(md.split("\n").filter((l) => /^#{1,3} /.test(l))).to.deep.equal([]);
    expect(md).not.to.match(/<\/?(details|img)/);
  });
});

describe("simulate: which permission changes are findings (pure)", () => {
  const timelock = getAddress("0x00000000000000000000000000000000000000a1");
  it("a governed proxy gaining the timelock as its first owner is not a finding; any other owner change is", () => {
    expect(ownershipToTimelock({ what: "registry owner", before: "(none)", after: timelock }, ["registry", "vault"], timelock)).to.equal(true);
    expect(ownershipToTimelock({ what: "registry owner", before: `0x${"00".repeat(20)}`, after: timelock.toLowerCase() }, ["registry"], timelock)).to.equal(true);
    expect(ownershipToTimelock({ what: "registry owner", before: "(none)", after: getAddress("0x00000000000000000000000000000000000000e1") }, ["registry"], timelock)).to.equal(false);
    expect(ownershipToTimelock({ what: "registry owner", before: getAddress("0x00000000000000000000000000000000000000e1"), after: timelock }, ["registry"], timelock)).to.equal(false);
    expect(ownershipToTimelock({ what: "other owner", before: "(none)", after: timelock }, ["registry"], timelock)).to.equal(false);
    expect(ownershipToTimelock({ what: "timelock PROPOSER_ROLE", before: "(none)", after: timelock }, ["registry"], timelock)).to.equal(false);
  });
});
