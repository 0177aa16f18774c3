/**
 * Owner-signed outside executions signed now and sent later: the registration and the revoke of an automation's
 * session are both signed while the owner's PIN is at hand, so the rest of the plan never needs it; a wallet's
 * revoke-all (`Sessions.presignRevokeAll`) is signed the same way, to be sent by an operator without the PIN.
 */
import { Clock, Effect, type Redacted, Schema, type Schedule } from "effect"
import { Crypto } from "../../Crypto.js"
import { InvalidInput, PaymasterError } from "../../Errors.js"
import { messageHash, ownerSignature, OutsideExecutionTypedData, sessionKeyCalldata, toOutsideCalls } from "../../OutsideExecution.js"
import { Paymaster } from "../../Paymaster.js"
import type { Address, Call, Felt, WalletData } from "../../Schemas.js"
import { StarknetRpc } from "../../StarknetRpc.js"
import * as Transactions from "../../Transactions.js"
import { checkTypedData } from "./typed-data.js"

/** A signed outside execution as it is kept until sent: the typed data (JSON) and the owner's signature. */
export const Presigned = Schema.Struct({
  typedData: Schema.String,
  signature: Schema.Array(Schema.String),
  nonce: Schema.String,
  executeBefore: Schema.Number
})
export type Presigned = typeof Presigned.Type

/** The owner's calls revoking these session keys: `revoke_session_key` on the account itself, one per key. */
export const revokeCalls = (wallet: Address, sessionPublicKeys: ReadonlyArray<Felt>): ReadonlyArray<Call> =>
  sessionPublicKeys.map((key) => ({ contractAddress: wallet, entrypoint: "revoke_session_key", calldata: sessionKeyCalldata(key) }))

/** How far the paymaster's clock may differ from ours, seconds (as for any sponsored submission). */
const CLOCK_TOLERANCE = 60

/** Builds `calls` through the paymaster for the window `now - 1 .. executeBefore`, checks the typed data, signs it. */
export const presign = (
  wallet: WalletData,
  pin: Redacted.Redacted<string>,
  calls: ReadonlyArray<Call>,
  window: { readonly now: number; readonly executeBefore: number },
  retry?: Schedule.Schedule<unknown, unknown>
) =>
  Effect.scoped(
    Effect.gen(function*() {
      const rpc = yield* StarknetRpc
      const crypto = yield* Crypto
      const paymaster = yield* Paymaster
      const chainId = yield* Transactions.retryTransient(rpc.chainId, retry)
      const [ownerPublicKey] = yield* Transactions.retryTransient(
        rpc.call({ contractAddress: wallet.publicKey, entrypoint: "get_public_key", calldata: [] }),
        retry
      )
      if (ownerPublicKey === undefined) {
        const rule = "the account did not answer get_public_key"
        return yield* new InvalidInput({ path: "wallet.publicKey", rule, issues: [{ path: "wallet.publicKey", rule }] })
      }
      const key = yield* crypto.decryptPrivateKey(wallet.encryptedPrivateKey, pin, ownerPublicKey)
      const timeBounds = { executeAfter: window.now - 1, executeBefore: window.executeBefore }
      const built = yield* Transactions.retryTransient(
        paymaster.buildTransaction({ userAddress: wallet.publicKey, calls, timeBounds }),
        retry
      )
      const wall = Math.floor((yield* Clock.currentTimeMillis) / 1000)
      const outsideExecution = yield* checkTypedData(built.typedData, {
        chainId,
        calls: toOutsideCalls(calls),
        validity: window.executeBefore - window.now,
        clocks: { block: window.now, wall },
        tolerance: CLOCK_TOLERANCE,
        boundsAsked: paymaster.takesTimeBounds !== false
      })
      const signature = yield* crypto.sign(messageHash(chainId, wallet.publicKey, outsideExecution), key)
      return {
        typedData: JSON.stringify(built.typedData),
        signature: ownerSignature(signature),
        nonce: String(outsideExecution.nonce),
        executeBefore: Number(outsideExecution.executeBefore)
      } satisfies Presigned
    })
  )

/**
 * Sends a presigned outside execution. Its nonce makes a second copy refused, never run twice: `"duplicate"` means
 * an earlier copy went through (on chain the nonce is marked only by a successful outside execution).
 */
export const sendPresigned = (
  wallet: Address,
  presigned: Presigned,
  retry?: Schedule.Schedule<unknown, unknown>
): Effect.Effect<{ readonly _tag: "Sent"; readonly txHash: string } | { readonly _tag: "Duplicate" }, PaymasterError, Paymaster> =>
  Effect.gen(function*() {
    const paymaster = yield* Paymaster
    const typedData = yield* Schema.decodeUnknown(Schema.parseJson(OutsideExecutionTypedData))(presigned.typedData).pipe(
      Effect.orDie
    )
    return yield* Transactions.retryTransient(
      paymaster.executeTransaction({ userAddress: wallet, typedData, signature: presigned.signature as never }),
      retry
    ).pipe(
      Effect.map(({ transactionHash }) => ({ _tag: "Sent" as const, txHash: transactionHash })),
      Effect.catchIf(
        (error) => error.revertReason === "SRC9: duplicated nonce",
        () => Effect.succeed({ _tag: "Duplicate" as const })
      )
    )
  })
