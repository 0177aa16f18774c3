/** A payment record for budget tests, with typed data from the library's own builder. */
import { Schema } from "effect"
import { Ledger, OutsideExecution, Schemas } from "starknet-session-keys"

export const budgetPayment = (wallet: string, idempotencyKey: string, now: number, sessionPublicKey = "0x5e55"): Ledger.Payment => {
  const executeAfter = Math.floor(now / 1000) - 1
  const executeBefore = Math.floor(now / 1000) + 120
  const typedData = OutsideExecution.toTypedData("0x534e5f5345504f4c4941", {
    caller: OutsideExecution.anyCaller,
    nonce: "0x1" as Schemas.Felt,
    executeAfter: BigInt(executeAfter),
    executeBefore: BigInt(executeBefore),
    calls: []
  })
  return Schema.decodeUnknownSync(Ledger.Payment)({
    wallet,
    idempotencyKey,
    purpose: "execute",
    sessionPublicKey,
    nonce: "0x1",
    executeAfter,
    executeBefore,
    typedData,
    signature: ["0x1", "0x2", "0x3", "0x4"],
    calls: [],
    firstBlock: 0,
    recordedAt: now,
    status: "pending"
  })
}
