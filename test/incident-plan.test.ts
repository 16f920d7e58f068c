import { expect } from "chai";
import { addUpdate, containmentCalls, planIncident, type ChainView } from "../src/incident/plan.ts";
import { callsTxBuilderFile, txBuilderChecksum } from "../src/review/tx-builder.ts";
import { encodeCancel } from "../src/timelock/calls.ts";
import { Incident, type Incident as IncidentT } from "../src/incident/record.ts";
import { sinkPost } from "../src/pipeline/incident.ts";
import { webhookPayload } from "../src/watch/sinks/webhook.ts";
import { renderText } from "../src/review/untrusted.ts";
import { main } from "../src/cli/main.ts";
import { consoleOutput } from "../src/cli/output.ts";

/** planIncident is pure: the incident file and a view of the chain in, the next steps out. */
const OP1 = "0x" + "11".repeat(32);
const OP2 = "0x" + "22".repeat(32);
const NOW = "2026-01-01T00:00:00.000Z";

function fresh(over: Partial<IncidentT> = {}): IncidentT {
  return Incident.parse({ version: 1, id: "x", network: "default", chainId: 31337, title: "t", severity: "high", status: "open", openedAt: NOW, detectedAt: NOW, pauseRequested: ["vault"], ...over });
}
const view = (over: Partial<ChainView> = {}): ChainView => ({
  pending: [{ operationId: OP1 }, { operationId: OP2 }],
  operations: { [OP1]: "pending", [OP2]: "pending" },
  pause: { vault: { contract: "vault", proxy: "0x" + "aa".repeat(20), pausable: true, paused: false, pauser: "0x" + "bb".repeat(20) } },
  posted: {},
  ...over,
});

describe("incident planning (pure)", function () {
  it("records an intent per pending operation and pause before acting, and writes no notice until containment has results", function () {
    const { incident, actions } = planIncident(fresh(), view(), { now: NOW, sinks: ["files:a"] });
    expect(incident.containmentPlanned).to.equal(true);
    expect(incident.steps.map((s) => s.key)).to.deep.equal([`cancel:${OP1}`, `cancel:${OP2}`, "pause:vault"]);
    expect(actions.map((a) => a.do)).to.deep.equal(["cancel", "cancel", "pause"]);
    expect(incident.notices).to.deep.equal([]);
  });

  it("marks what the chain shows done as already, never acts on it, then writes the open notice and one post per sink", function () {
    const first = planIncident(fresh(), view(), { now: NOW, sinks: ["files:a", "webhook:H"] }).incident;
    const done = view({ pending: [], operations: { [OP1]: "cancelled", [OP2]: "executed" }, pause: { vault: { ...view().pause.vault!, paused: true } } });
    const { incident, actions } = planIncident(first, done, { now: NOW, sinks: ["files:a", "webhook:H"] });
    expect(incident.steps.slice(0, 3).map((s) => s.result!.status)).to.deep.equal(["already", "skipped", "already"]);
    expect(actions).to.deep.equal([
      { do: "post", key: "post:0:files:a", seq: 0, sink: "files:a" },
      { do: "post", key: "post:0:webhook:H", seq: 0, sink: "webhook:H" },
    ]);
    // The notice says only what the chain confirmed: OP2 executed before it could be cancelled.
    const md = renderText(incident.notices[0]!.markdown, "raw");
    expect(md).to.contain(`operation ${OP1}`).and.contain(`${OP2}: skipped (it executed before it could be cancelled)`);
    // A sink that already holds the notice is not posted to again; the same update twice is one notice.
    const again = planIncident(incident, { ...done, posted: { "post:0:files:a": true } }, { now: NOW, sinks: ["files:a", "webhook:H"] });
    expect(again.actions.map((a) => a.key)).to.deep.equal(["post:0:webhook:H"]);
    const updated = addUpdate(again.incident, "cause found", NOW, ["files:a"]);
    expect(addUpdate(updated, "cause found", NOW, ["files:a"])).to.equal(updated);
  });

  it("red team: an incident file claiming a cancel and a pause the chain does not show gets them done again, and no notice claims them", function () {
    // An edited incidents/<id>.json: containment planned, both steps "done", no notice yet. The chain: still pending, not paused.
    const forged = fresh({
      containmentPlanned: true,
      steps: [
        { key: `cancel:${OP1}`, kind: "cancel", target: OP1, intent: `cancel pending operation ${OP1}`, plannedAt: NOW, result: { status: "done", at: NOW, tx: "0x" + "ee".repeat(32) } },
        { key: "pause:vault", kind: "pause", target: "vault", intent: "pause 'vault'", plannedAt: NOW, result: { status: "already", at: NOW, detail: "paused() is true" } },
      ],
    });
    const { incident, actions } = planIncident(forged, view({ pending: [] }), { now: NOW, sinks: ["files:a"] });
    expect(actions.map((a) => a.key)).to.deep.equal([`cancel:${OP1}`, "pause:vault"]);
    expect(incident.notices).to.deep.equal([]);
    expect(incident.timeline.map((t) => t.event).join("\n")).to.contain("the chain does not confirm");
    // The same file with its own (unposted) open notice saying "all contained": the notice is dropped, never posted.
    const withNotice = planIncident({ ...forged, steps: forged.steps.map((x) => ({ ...x, result: { status: "already" as const, at: NOW } })) }, view({ pending: [], operations: { [OP1]: "cancelled" }, pause: { vault: { ...view().pause.vault!, paused: true } } }), { now: NOW, sinks: ["files:a"] }).incident;
    expect(withNotice.notices.map((n) => n.kind)).to.deep.equal(["open"]);
    const replay = planIncident(withNotice, view({ pending: [] }), { now: NOW, sinks: ["files:a"] });
    expect(replay.incident.notices).to.deep.equal([]);
    expect(replay.actions.map((x) => x.key)).to.deep.equal([`cancel:${OP1}`, "pause:vault"]);
  });

  it("writes the containment for a guardian Safe as one Transaction Builder batch: cancel(id) on the timelock, pause() on each proxy", function () {
    const { actions } = planIncident(fresh(), view(), { now: NOW, sinks: [] });
    const timelock = "0x" + "cc".repeat(20);
    const calls = containmentCalls(actions, { timelock, proxies: { vault: "0x" + "aa".repeat(20) } }, { cancel: encodeCancel, pause: () => "0x8456cb59" });
    expect(calls.map((c) => [c.to, c.method, c.data.slice(0, 10)])).to.deep.equal([
      [timelock, "cancel", "0xc4d252f5"],
      [timelock, "cancel", "0xc4d252f5"],
      ["0x" + "aa".repeat(20), "pause", "0x8456cb59"],
    ]);
    const file = callsTxBuilderFile({ chainId: 1n, safe: "0x" + "dd".repeat(20), name: "n", description: "d", createdAt: 0, calls });
    expect(file.transactions[0]!.contractInputsValues).to.deep.equal({ id: OP1 });
    expect(file.meta.checksum).to.equal(txBuilderChecksum(file));
  });

  it("escapes the operator's words per sink: no Slack broadcast, no Discord ping", function () {
    const { incident } = planIncident(fresh({ title: "<!channel> @everyone drained", pauseRequested: [] }), view({ pending: [] }), { now: NOW, sinks: ["s"] });
    const post = sinkPost(incident, incident.notices[0]!);
    expect(JSON.stringify(webhookPayload(post, "slack"))).to.not.contain("<!channel>");
    const discord = webhookPayload(post, "discord") as { content: string; allowed_mentions: { parse: unknown[] } };
    expect(discord.allowed_mentions.parse).to.deep.equal([]);
    expect(discord.content).to.not.contain("@everyone");
  });

  it("refuses bad usage of pause, incident and drill with exit 2, before connecting to any chain", async function () {
    const lines: string[] = [];
    const out = consoleOutput(false, { out: (l) => lines.push(l), err: (l) => lines.push(l) });
    const stderr = process.stderr.write;
    process.stderr.write = ((s: string) => (lines.push(s), true)) as typeof process.stderr.write;
    try {
      expect(await main(["incident"], out)).to.equal(2);
      expect(await main(["incident", "open", "--severity", "high"], out)).to.equal(2);
      expect(await main(["incident", "open", "--title", "x", "--severity", "urgent"], out)).to.equal(2);
      expect(await main(["incident", "open", "--title", "x", "--severity", "high", "--detected-at", "yesterday"], out)).to.equal(2);
      expect(await main(["incident", "update"], out)).to.equal(2);
      expect(await main(["drill", "meteor"], out)).to.equal(2);
    } finally {
      process.stderr.write = stderr;
    }
    const text = lines.join("");
    expect(text).to.contain("--title is required").and.contain("--severity urgent: expected one of low, medium, high, critical");
    expect(text).to.contain("--detected-at 'yesterday': expected an ISO 8601 time").and.contain("--message is required");
    expect(text).to.contain("GH176").and.contain("unknown drill scenario 'meteor' (expected one of: rogue-upgrade, pause-all)");
  });
});
