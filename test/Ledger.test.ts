/** The in-memory ledger's open payments: by session, settled ones left out, a replaced record read as it now is. */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Ledger } from "starknet-session-keys"
import { paymentRecord } from "./helpers/payment.js"

const payment = paymentRecord
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
