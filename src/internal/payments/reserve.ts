/**
 * The calls a payment reserves on its session: kept while its payload may run, given back when the chain says it
 * cannot (`reclaimDead`) or when nothing was sent (`releaseUnlessCounted`).
 */
import { Cause, Effect, Exit, Option } from "effect"
import type { LedgerError } from "../../Errors.js"
import { Ledger, type SessionRef, settle as settleFinal } from "../../Ledger.js"
import type { Address } from "../../Schemas.js"
import type { Options } from "../../Sessions.js"
import { StarknetRpc } from "../../StarknetRpc.js"
import * as Transactions from "../../Transactions.js"
import { retrying } from "../sessions/lifecycle.js"
import { lookAt } from "./resolve.js"

/**
 * A reserved call counts when its payload was sent (the chain may count it): a hash, or an unknown outcome. Every
 * other exit gives it back, unless the ledger records a payload holding it that it cannot call dead: a payload
 * recorded and handed to the paymaster may run whatever ended this fiber (an interruption, a defect, a fault of
 * the ledger after the send), so its call stays reserved until the chain decides it (`reclaimDead`, `resolve`,
 * `Transactions.wait`). A reservation whose record cannot be read is kept: a call held too long is a refusal
 * `reclaimDead` undoes, a call given back too early sends a payload the chain refuses.
 */
export const releaseUnlessCounted = (
  reservation: string,
  exit: Exit.Exit<{ readonly raced: boolean; readonly shared: boolean }, unknown>,
  wallet: Address,
  idempotencyKey: string
): Effect.Effect<void, never, Ledger> =>
  Effect.gen(function*() {
    if (Exit.isSuccess(exit) ? !exit.value.raced || exit.value.shared : failedUnknown(exit)) return
    const ledger = yield* Ledger
    const record = yield* ledger.payment(wallet, idempotencyKey)
    if (record?.reservation === reservation && (record.status === "pending" || record.status === "submitted")) {
      return yield* Effect.logDebug("an execute ended with its payload recorded and maybe sent; its call stays reserved")
    }
    yield* ledger.release(reservation)
  }).pipe(Effect.catchAll((error) => Effect.logWarning("a reservation could not be settled; it stays held", error)))

/**
 * Gives back the calls reserved by a session's payloads that the chain says can no longer run: a window closed with
 * the nonce unused (`not-executed`), or a transaction seen reverted (as `Transactions.wait` would). Looked at only
 * when a reservation is refused, so that a call held by a payload nobody waited for never refuses an execute the
 * chain would run. Answers whether any call came back. Reads that fail decide nothing.
 */
const reclaimDead = (session: SessionRef, retry: Options["retry"]): Effect.Effect<boolean, LedgerError, StarknetRpc | Ledger> =>
  Effect.gen(function*() {
    const ledger = yield* Ledger
    const rpc = yield* StarknetRpc
    const held = (yield* ledger.openPayments(session)).filter((p) => p.purpose === "execute" && p.reservation !== undefined)
    const freed = yield* Effect.forEach(held, (p) =>
      Effect.gen(function*() {
        const look = yield* lookAt(p, retry)
        if (look === "dead") {
          yield* ledger.release(p.reservation!)
          yield* ledger.updatePayment(p.wallet, p.idempotencyKey, p.nonce, { status: "not-executed" })
          return true
        }
        if (look === "open" && p.transactionHash !== undefined && p.status !== "reverted") {
          const status = yield* retrying(
            rpc.getTransactionStatus(p.transactionHash).pipe(Effect.catchTag("TransactionNotFound", () => Effect.succeed(undefined))),
            retry
          )
          if (status !== undefined && Transactions.isFinal(status) && (status.executionStatus === "REVERTED" || status.finalityStatus === "REJECTED")) {
            yield* settleFinal(p.transactionHash, false, status.revertReason)
            return true
          }
        }
        return false
      }).pipe(Effect.catchAll((error) => Effect.as(Effect.logDebug("a look at a reserved payload failed; its call stays held", error), false))), { concurrency: 10 })
    return freed.some((f) => f)
  })

/** An exit that failed with `OutcomeUnknown`: what it submitted may have been sent. */
export const failedUnknown = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isFailure(exit) &&
  Option.exists(Cause.failureOption(exit.cause), (e) => typeof e === "object" && e !== null && (e as { _tag?: unknown })._tag === "OutcomeUnknown")

/** `Ledger.reserve`; when it refuses, the calls of payloads the chain can no longer run come back and it is asked again. */
export const reserveLive = (
  session: SessionRef,
  chain: { readonly callsUsed: number; readonly maxCalls: number },
  idempotencyKey: string,
  retry: Options["retry"]
) =>
  Effect.gen(function*() {
    const ledger = yield* Ledger
    const reserved = yield* ledger.reserve(session, chain, idempotencyKey)
    if (reserved.ok || chain.callsUsed >= chain.maxCalls || !(yield* reclaimDead(session, retry))) return reserved
    return yield* ledger.reserve(session, chain, idempotencyKey)
  })
