import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { HttpError } from "@safe-global/api-kit";
import { deployed, type Deployed } from "./helpers/fixture.ts";
import { startTxService, type TxService } from "../src/service/server.ts";
import { openStore, SCHEMA_VERSION, StoreSchemaTooNew } from "../src/service/store.ts";
import { apiKitFor, type ApiKit } from "../src/safe/service-client.ts";
import { loadSetup, operationState, type Setup } from "../src/pipeline/setup.ts";
import { stage } from "../src/pipeline/stage.ts";
import { propose } from "../src/pipeline/propose.ts";
import { sign } from "../src/pipeline/sign.ts";
import { execute } from "../src/pipeline/execute.ts";
import { addDelegate, listDelegates, removeDelegate } from "../src/pipeline/delegate.ts";
import { SAFE_TX_TYPES } from "../src/safe/hash.ts";
import { safeTxData } from "../src/safe/transactions.ts";
import { GatehouseError } from "../src/errors.ts";
import type { Actor } from "../src/chain/context.ts";
import { proposeOutcome } from "../src/cli/commands/propose.ts";

/**
 * The CI key as a Safe delegate: the real api-kit 5.0.3 against `gatehouse tx-service`, the real Safe
 * 1.5.0 (2-of-3, accounts 1-3) on the in-process chain. The delegate (account 5) is no owner: it proposes,
 * the service never counts its signature, and the owners' signatures execute the Safe transaction.
 */
describe("tx-service delegates: a key that proposes and can never approve", function () {
  let d: Deployed;
  let service: TxService;
  let api: ApiKit;
  let setup: Setup;
  let dir: string;
  let delegate: Actor;
  let safe: string;

  const refusal = async (p: Promise<unknown>): Promise<{ status: number; body: unknown }> => {
    try {
      await p;
    } catch (e) {
      if (e instanceof HttpError) return { status: e.statusCode, body: e.data };
      throw e;
    }
    throw new Error("expected the service to refuse the request");
  };
  /** `actor` as api-kit's signer, with the totp it signs moved `hoursBack` hours into the past. */
  const signerHoursBack = (actor: Actor, hoursBack: number) =>
    ({
      account: { address: actor.address },
      signTypedData: (a: { domain: Record<string, unknown>; types: Record<string, { name: string; type: string }[]>; message: { delegateAddress: string; totp: number } }) =>
        actor.signer.signTypedData(a.domain, a.types, { ...a.message, totp: a.message.totp - hoursBack }),
    }) as unknown as Parameters<ApiKit["addSafeDelegate"]>[0]["signer"];

  before(async () => {
    d = await deployed();
    dir = mkdtempSync(path.join(tmpdir(), "gatehouse-delegates-"));
    service = await startTxService({ ctx: d.ctx, dbFile: path.join(dir, "tx-service.sqlite"), log: () => {} });
    api = apiKitFor(d.ctx.chainId, { url: service.url });
    setup = { ...loadSetup(d.ctx, d.root, d.policy, api), source: d.setup.source };
    delegate = d.actors.user;
    safe = setup.deployment.safe.address;
  });
  after(async () => {
    await service?.close();
    await d?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("refuses a delegate added by a non-owner or with an expired totp, storing nothing; accepts the previous hour's", async () => {
    // A non-owner: 400 as the real service (DelegateSerializerV2 -> validate_safe_address_and_delegator).
    const outsider = d.actors.outsider;
    const notOwner = await refusal(api.addSafeDelegate({ safeAddress: safe, delegateAddress: delegate.address, delegatorAddress: outsider.address, label: "ci", signer: signerHoursBack(outsider, 0) }));
    expect(notOwner.status).to.equal(400);
    expect(notOwner.body).to.deep.equal({ nonFieldErrors: [`Provided delegator=${outsider.address} is not an owner of Safe=${safe}`] });
    // The pipeline refuses it before asking the service.
    try {
      await addDelegate({ setup, delegate: delegate.address, delegator: outsider, label: "ci" });
      expect.fail("a non-owner added a delegate");
    } catch (e) {
      expect((e as GatehouseError).errorName).to.equal("NOT_OWNER");
    }
    // An owner's signature two hours old: outside the current and the previous totp.
    const owner = d.actors.owners[0];
    const expired = await refusal(api.addSafeDelegate({ safeAddress: safe, delegateAddress: delegate.address, delegatorAddress: owner.address, label: "ci", signer: signerHoursBack(owner, 2) }));
    expect(expired.status).to.equal(400);
    expect(expired.body).to.deep.equal({ nonFieldErrors: [`Signature does not match provided delegator=${owner.address}`] });
    expect(await listDelegates(setup)).to.deep.equal([]);
    // The previous hour's totp is still accepted (the real service accepts current and previous).
    await api.addSafeDelegate({ safeAddress: safe, delegateAddress: delegate.address, delegatorAddress: owner.address, label: "previous hour", signer: signerHoursBack(owner, 1) });
    expect((await listDelegates(setup)).map((r) => r.label)).to.deep.equal(["previous hour"]);
    await api.removeSafeDelegate({ delegateAddress: delegate.address, delegatorAddress: owner.address, signer: signerHoursBack(owner, 0) });
    expect(await listDelegates(setup)).to.deep.equal([]);
    // GET without any filter: 400, the real service's list body.
    const unfiltered = await fetch(`${service.url}/api/v2/delegates/`);
    expect(unfiltered.status).to.equal(400);
    expect(await unfiltered.json()).to.deep.equal(["At least one query param must be provided"]);
  });

  it("an owner adds the delegate; it proposes with 0 approvals; its confirmation is refused; owners sign and the Safe transaction executes", async () => {
    const owner = d.actors.owners[0];
    // A key that is not yet a delegate cannot propose: a clear refusal, before anything is signed.
    const staged = await stage({ setup, deployer: d.actors.deployer });
    const id = staged.proposal!.record.id;
    try {
      await propose({ setup, proposal: id, proposer: delegate, via: "service" });
      expect.fail("an unregistered key proposed");
    } catch (e) {
      expect((e as GatehouseError).errorName).to.equal("NOT_OWNER_OR_DELEGATE");
    }
    expect((await api.getMultisigTransactions(safe)).count).to.equal(0);

    // `gatehouse delegate add` (an owner signs the EIP-712 delegate message through api-kit).
    const rows = await addDelegate({ setup, delegate: delegate.address, delegator: owner, label: "gatehouse CI" });
    expect(rows).to.deep.equal([{ safe, delegate: delegate.address, delegator: owner.address, label: "gatehouse CI", expiryDate: null }]);

    const p = await propose({ setup, proposal: id, proposer: delegate, via: "service" });
    expect(p.asDelegate).to.equal(true);
    expect(p.approvedNow).to.equal(true); // submitted now
    expect(p.approvals).to.deep.equal([]);
    expect(p.threshold).to.equal(2);
    expect(proposeOutcome(p, delegate.address)).to.deep.equal([
      `proposed to the Safe Transaction Service by the delegate ${delegate.address}, not an owner: its signature approves nothing`,
      `0 of 2 approvals: the owners must sign (gatehouse sign ${p.safeTx.safeTxHash} --from <owner>)`,
    ]);
    const remote = await api.getTransaction(p.safeTx.safeTxHash);
    expect(remote.confirmations).to.deep.equal([]);
    expect(remote.proposer).to.equal(owner.address); // recorded as the delegator's, as the real service does
    expect(remote.proposedByDelegate).to.equal(delegate.address);

    // The delegate tries to confirm with its own signature: 400, "is not an owner" (SafeMultisigConfirmationSerializer).
    const ownSig = await delegate.signer.signTypedData({ chainId: d.ctx.chainId, verifyingContract: safe }, SAFE_TX_TYPES, safeTxData(p.safeTx));
    const confirm = await refusal(api.confirmTransaction(p.safeTx.safeTxHash, ownSig));
    expect(confirm.status).to.equal(400);
    expect(JSON.stringify(confirm.body)).to.include(`Signer=${delegate.address} is not an owner`);
    expect((await api.getTransaction(p.safeTx.safeTxHash)).confirmations).to.deep.equal([]);
    try {
      await execute({ setup, proposal: id, executor: d.actors.outsider });
      expect.fail("executed with no owner's approval");
    } catch (e) {
      expect((e as GatehouseError).errorName).to.equal("THRESHOLD_NOT_MET");
    }

    // The owners sign; the Safe transaction schedules the operation.
    await sign({ setup, safeTxHash: p.safeTx.safeTxHash, signer: d.actors.owners[1] });
    const s = await sign({ setup, safeTxHash: p.safeTx.safeTxHash, signer: d.actors.owners[2] });
    expect(s.approvals.sort()).to.deep.equal([d.actors.owners[1].address, d.actors.owners[2].address].sort());
    const scheduled = await execute({ setup, proposal: id, executor: d.actors.outsider });
    expect(scheduled.step).to.equal("scheduled");
    expect((await operationState(setup.timelock, staged.proposal!.record.operationId)).state).to.equal("Waiting");
    expect((await api.getTransaction(p.safeTx.safeTxHash)).isExecuted).to.equal(true);

    // A restart keeps the delegation (the SQLite file); then the delegate removes itself.
    await service.close();
    service = await startTxService({ ctx: d.ctx, dbFile: path.join(dir, "tx-service.sqlite"), log: () => {} });
    api = apiKitFor(d.ctx.chainId, { url: service.url });
    setup = { ...setup, service: api };
    expect((await listDelegates(setup)).map((r) => r.delegate)).to.deep.equal([delegate.address]);
    expect(await removeDelegate({ setup, delegate: delegate.address, signer: delegate })).to.deep.equal([]);
  });

  it("migrates a schema-1 store (no delegates) and refuses one newer than it knows", () => {
    const file = path.join(dir, "old.sqlite");
    const identity = { chainId: 31337n, genesisHash: "0x" + "11".repeat(32) };
    openStore(file, identity).close();
    // Turn it back into what a schema-1 gatehouse wrote.
    const db = new DatabaseSync(file);
    db.exec("DROP TABLE delegates; ALTER TABLE multisig_transactions DROP COLUMN proposed_by_delegate; UPDATE meta SET value = '1' WHERE key = 'schema_version'");
    db.close();
    const store = openStore(file, identity);
    store.saveDelegate({ safe: null, delegate: delegate.address, delegator: d.actors.owners[0].address, label: "x", expiryDate: null });
    expect(store.listDelegates({ delegate: delegate.address }, 10, 0).count).to.equal(1);
    store.close();
    const check = new DatabaseSync(file);
    expect((check.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as { value: string }).value).to.equal(String(SCHEMA_VERSION));
    check.exec(`UPDATE meta SET value = '${SCHEMA_VERSION + 1}' WHERE key = 'schema_version'`);
    check.close();
    expect(() => openStore(file, identity)).to.throw(StoreSchemaTooNew);
  });
});
