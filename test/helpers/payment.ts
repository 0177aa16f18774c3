/** A payment record as the exactly-once path writes it: one USDC transfer, typed data from the library's own builder. */
import { Schema } from "effect"
import { Ledger, OutsideExecution, Schemas } from "starknet-session-keys"

export const paymentRecord = (wallet: string, sessionPublicKey: string, idempotencyKey: string, nonce: string): Ledger.Payment => {
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
