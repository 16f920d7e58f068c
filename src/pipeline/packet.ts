import { GatehouseError } from "../errors.ts";
import { existsSync, readFileSync } from "node:fs";
import { displayPath, writeFileAtomic, writeJsonAtomic } from "../fs/atomic.ts";
import type { ProposalRecord, SafeTxRecord } from "../records/proposal.ts";
import { blockingFindings, buildSignerPacket, compareHeader, comparePackets, markdownMismatch, packetFile, packetMarkdownFile, readSignerPacket, renderSignerPacket, scheduleSafeTx, SignerPacket } from "../simulate/packet.ts";
import { simulateProposal } from "../simulate/run.ts";
import type { SimulationReport } from "../simulate/simulate.ts";
import { operationState, type Setup } from "./setup.ts";
import type { VerifyCheck } from "./verify.ts";

/**
 * The signer packet's effects: propose simulates the schedule Safe transaction it is about to submit and
 * writes `<id>.validation.json` and `.validation.md` beside the record; verify (and so sign) simulates
 * again and compares.
 */

/** Simulate the proposal and build its packet for `safeTx` (nothing written). */
export async function makeSignerPacket(setup: Setup, record: ProposalRecord, safeTx: SafeTxRecord): Promise<{ packet: SignerPacket; report: SimulationReport }> {
  const report = await simulateProposal(setup, record);
  const packet = buildSignerPacket({ network: setup.ctx.network, record, safeTx, report, timelock: setup.deployment.timelock.address, safe: setup.deployment.safe.address });
  return { packet, report };
}

/** Both files, each written atomically (the JSON last: its presence says the Markdown beside it is current). */
export function writeSignerPacket(recordFile: string, packet: SignerPacket): { file: string; markdownFile: string; markdown: string } {
  const markdown = renderSignerPacket(packet);
  const file = packetFile(recordFile);
  const markdownFile = packetMarkdownFile(recordFile);
  writeFileAtomic(markdownFile, markdown);
  writeJsonAtomic(file, SignerPacket.parse(packet));
  return { file, markdownFile, markdown };
}

/**
 * verify's checks of the signer packet. A proposed record (one with a schedule Safe transaction) must
 * have a packet, and it must be exactly what the record and a simulation now give: header, Safe
 * transaction, three hashes, decoded calls, the effects and their hash, the rows a signer reads. A
 * simulation with findings fails too. A staged record has no packet yet: it is still simulated.
 */
export async function checkSignerPacket(setup: Setup, recordFile: string, record: ProposalRecord): Promise<VerifyCheck[]> {
  const checks: VerifyCheck[] = [];
  const file = packetFile(recordFile);
  let pinned: SignerPacket | undefined;
  try {
    pinned = readSignerPacket(file);
  } catch (e) {
    if (!(e instanceof GatehouseError)) throw e;
    return [{ name: "signer packet", ok: false, detail: `${e.code}: ${e.message}` }];
  }
  const safeTx = scheduleSafeTx(record);
  if (safeTx && !pinned) checks.push({ name: "signer packet", ok: false, detail: `${displayPath(file)} is missing: the record was proposed (Safe transaction ${safeTx.safeTxHash}) but no packet pins what it does` });

  if ((await operationState(setup.timelock, record.operationId)).state === "Done") {
    checks.push({ name: "simulation", ok: true, detail: "UNCHECKED: the operation has executed: nothing left to simulate; the packet's effects were not compared", unchecked: true });
    if (pinned && safeTx) {
      const h = compareHeader(pinned, setup.ctx.network, record, safeTx);
      checks.push({ name: "signer packet fields", ok: h.edited.length === 0, detail: h.edited.length === 0 ? `${displayPath(file)}: the Safe transaction, its hashes and the decoded calls are the record's` : `${displayPath(file)} differs from the record in: ${h.edited.join(", ")}` });
      checks.push({ name: "signer packet state-diff hash", ok: !h.hashMismatch, detail: h.hashMismatch ? `the packet's effectsHash ${pinned.effectsHash} is not the hash of its effects` : pinned.effectsHash });
      checks.push(markdownCheck(recordFile, pinned));
    }
    return checks;
  }
  let report: SimulationReport;
  try {
    report = await simulateProposal(setup, record);
  } catch (e) {
    if (!(e instanceof GatehouseError)) throw e;
    checks.push({ name: "simulation", ok: false, detail: `${e.code}: ${e.message}` });
    return checks;
  }
  const blocking = blockingFindings(record, report.findings);
  checks.push({
    name: "simulation",
    ok: blocking.length === 0,
    detail:
      report.findings.length === 0
        ? `fork at block ${report.forkBlock}: the path completes, ${report.stateDiff.length} slot(s) change, every write allowed, no permission change, ${report.probes.length} probe(s) pass`
        : blocking.length === 0
          ? `fork at block ${report.forkBlock}: the path completes and ${report.probes.length} probe(s) pass; the governance change does what its actions say (judged above): ${report.findings.map((f) => f.message).join("; ")}`
          : blocking.map((f) => `${f.kind}: ${f.message}`).join("; "),
  });
  if (!pinned) {
    if (!safeTx) checks.push({ name: "signer packet", ok: true, detail: "UNCHECKED: not proposed yet: propose writes the packet", unchecked: true });
    return checks;
  }
  if (!safeTx) {
    checks.push({ name: "signer packet", ok: false, detail: `${displayPath(file)} pins Safe transaction ${pinned.safeTx.safeTxHash}, but the record has no schedule Safe transaction` });
    return checks;
  }
  const fresh = buildSignerPacket({ network: setup.ctx.network, record, safeTx, report, timelock: setup.deployment.timelock.address, safe: setup.deployment.safe.address });
  const cmp = comparePackets(pinned, fresh);
  checks.push({
    name: "signer packet fields",
    ok: cmp.edited.length === 0,
    detail: cmp.edited.length === 0
      ? `${displayPath(file)}: Safe ${pinned.safe} nonce ${pinned.safeTx.nonce}, safeTxHash ${pinned.safeTx.safeTxHash}, the decoded calls and the rows shown are what the record and the simulation give`
      : `${displayPath(file)} differs from what the record and the simulation give in: ${cmp.edited.slice(0, 12).join(", ")}${cmp.edited.length > 12 ? `, and ${cmp.edited.length - 12} more` : ""}`,
  });
  checks.push({
    name: "signer packet state-diff hash",
    ok: !cmp.hashMismatch,
    detail: cmp.hashMismatch ? `the packet's effectsHash ${pinned.effectsHash} is not the hash of its effects (${fresh.effectsHash} now)` : pinned.effectsHash,
  });
  checks.push({
    name: "signer packet effects",
    ok: cmp.effects.length === 0,
    detail: cmp.effects.length === 0 ? `the simulation now has exactly the pinned effects (${pinned.effects.changes.length} storage change(s), ${pinned.effects.permissions.length} permission change(s), ${pinned.effects.probes.length} probe(s))` : cmp.effects.join("; "),
  });
  checks.push(markdownCheck(recordFile, pinned));
  return checks;
}

/** The `.validation.md` a signer reads must be the rendering of the packet JSON that was just compared. */
function markdownCheck(recordFile: string, pinned: SignerPacket): VerifyCheck {
  const mdFile = packetMarkdownFile(recordFile);
  const why = markdownMismatch(pinned, existsSync(mdFile) ? readFileSync(mdFile, "utf8") : undefined);
  return { name: "signer packet markdown", ok: why === undefined, detail: why ? `${displayPath(mdFile)} ${why}: regenerate it with propose, or read the JSON` : `${displayPath(mdFile)} is the rendering of the packet` };
}
