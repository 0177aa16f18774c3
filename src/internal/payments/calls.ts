/**
 * The check after execution: a SUCCEEDED execute whose account caught a failing call moved nothing for that call
 * (`CallFailed`), and its record says so (`failedCallOf`, `checkCalls`).
 */
import { Effect } from "effect"
import { CallFailed } from "../../Errors.js"
import { Ledger, type Payment } from "../../Ledger.js"
import type { Receipt } from "../../StarknetRpc.js"
import type * as Transactions from "../../Transactions.js"
import { failedCall } from "../account/callcheck.js"

/** How the ledger records a payment whose transaction succeeded while one of its calls failed (executed, no effect). */
const FAILED_CALL = /^call (-?\d+) failed: ([\s\S]*)$/

/** The `CallFailed` a payment's record holds: executed, with a call that moved nothing. */
export const failedCallOf = (payment: Payment): CallFailed | undefined => {
  const m = payment.reason === undefined || payment.status !== "executed" ? null : FAILED_CALL.exec(payment.reason)
  if (m === null || payment.transactionHash === undefined) return undefined
  const index = Number(m[1])
  const call = payment.calls[index]
  return new CallFailed({
    txHash: payment.transactionHash,
    callIndex: index,
    contractAddress: call?.contractAddress ?? payment.wallet,
    entrypoint: call?.entrypoint ?? "__execute__",
    reason: m[2]!,
    callUsed: true
  })
}

/**
 * A SUCCEEDED execute this process sent: each of its calls ran, or `CallFailed` (the account caught a failing
 * call). The ledger books it as executed without effect, so an execute under the same key sends nothing again.
 */
export const checkCalls = (receipt: Receipt, options: Transactions.WaitOptions) =>
  Effect.gen(function*() {
    if (receipt.executionStatus !== "SUCCEEDED") return
    const ledger = yield* Ledger
    const payment = yield* ledger.paymentByHash(receipt.transactionHash).pipe(Effect.orElseSucceed(() => undefined))
    if (payment === undefined || payment.purpose !== "execute") return
    const known = failedCallOf(payment)
    if (known !== undefined) return yield* known
    const failed = yield* failedCall(receipt.transactionHash, payment.wallet, payment.calls, receipt, options.retry)
    if (failed === undefined) return
    yield* ledger.updatePayment(payment.wallet, payment.idempotencyKey, payment.nonce, {
      status: "executed",
      transactionHash: receipt.transactionHash,
      reason: `call ${failed.callIndex} failed: ${failed.reason}`
    }).pipe(
      // Nothing of it moved: what it charged to its wallet's budgets is given back.
      Effect.zipRight(ledger.releaseBudget(payment.wallet, payment.idempotencyKey, payment.nonce)),
      Effect.catchAll((error) => Effect.logWarning("the ledger could not record a call that failed", error))
    )
    return yield* failed
  })
