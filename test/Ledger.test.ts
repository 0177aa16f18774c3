/** The in-memory ledger's open payments: by session, settled ones left out, a replaced record read as it now is. */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { Ledger, OutsideExecution, Schemas } from "starknet-session-keys"

const payment = (wallet: string, sessionPublicKey: string, idempotencyKey: string, nonce: string): Ledger.Payment => {
  const call = { contractAddress: "0x53c91253bc9682c04929ca02ed00b3e423f6710d2ee7e0d5ebb06f3ecf368a8", entrypoint: "transfer", calldata: ["0x7e0c1e4", "0x3e8", "0x0"] }
  const typedData = OutsideExecution.toTypedData("0x534e5f5345504f4c4941", {
    caller: OutsideExecution.anyCaller,
    nonce: nonce as Schemas.Felt,
    executeAfter: 100n,
    executeBefore: 1000n,
    calls: OutsideExecution.toOutsideCalls(Schema.decodeUnknownSync(Schema.Array(Schemas.Call))([call]))
  })
  return Schema.decodeUnknownSync(Ledger.Payment)({
    wallet,
    idempotencyKey,
    purpose: "execute",
    sessionPublicKey,
    nonce,
    executeAfter: 100,
    executeBefore: 1000,
    typedData,
    signature: ["0x1", "0x2", "0x3", "0x4"],
    calls: [call],
    firstBlock: 7,
    recordedAt: 1_700_000_000_000,
    status: "pending"
  })
}
const ref = (wallet: string, sessionPublicKey: string) => ({ wallet, sessionPublicKey }) as unknown as Ledger.SessionRef
const keysOf = (ps: ReadonlyArray<Ledger.Payment>) => ps.map((p) => `${p.idempotencyKey}@${p.nonce}`)

describe("the in-memory ledger's open payments", () => {
  it.effect("are those of the session asked for (however its hex is written), unsettled, as last stored, in the order first recorded", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger.makeMemory
      yield* ledger.recordPayment(payment("0x1234abcd", "0x5e55", "a", "0x1"))
      yield* ledger.recordPayment(payment("0x1234abcd", "0x5e55", "b", "0x2"))
      yield* ledger.recordPayment(payment("0x1234abcd", "0x6666", "c", "0x3")) // another session
      yield* ledger.recordPayment(payment("0x99", "0x5e55", "d", "0x4")) // another wallet
      yield* ledger.recordPayment(payment("0x1234abcd", "0x5e55", "e", "0x5"))
      const mine = ref("0x0000000000000000000000000000000000000000000000000000000001234ABCD", "0x05e55")
      expect(keysOf(yield* ledger.openPayments(mine))).toEqual(["a@0x1", "b@0x2", "e@0x5"])

      // Settled: gone from the open ones (executed, or known not executed); reverted stays open.
      yield* ledger.updatePayment("0x1234abcd" as never, "a", "0x1" as never, { status: "executed", transactionHash: "0xaa" as never })
      yield* ledger.updatePayment("0x1234abcd" as never, "e", "0x5" as never, { status: "not-executed" })
      yield* ledger.updatePayment("0x1234abcd" as never, "b", "0x2" as never, { status: "reverted", transactionHash: "0xbb" as never })
      const open = yield* ledger.openPayments(mine)
      expect(keysOf(open)).toEqual(["b@0x2"])
      expect(open[0]!.status).toBe("reverted")

      // A record replaced under its key (its payload dead): the new one is open in its place.
      yield* ledger.recordPayment(payment("0x1234abcd", "0x5e55", "b", "0x7"), { replacing: "0x2" as never })
      expect(keysOf(yield* ledger.openPayments(mine))).toEqual(["b@0x7"])
      expect(keysOf(yield* ledger.openPayments(ref("0x1234abcd", "0x6666")))).toEqual(["c@0x3"])
      expect(yield* ledger.openPayments(ref("0x1234abcd", "0x7777"))).toEqual([])
    }))
})
