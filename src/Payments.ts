/**
 * Payments made exactly once: the idempotency key that names a payment across retries, processes and restarts,
 * the outcome the chain decides for it (`resolve`), and the `Ledger`'s contract that records it (see
 * docs/exactly-once.md). The machinery (submission, fence, replay guard, reservations, the look at the chain) is
 * under `internal/payments/`; `Sessions` makes payments through it.
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect, Option, Schedule, Schema } from "effect"
import type { CallFailed, InvalidInput, LedgerError, OutcomeUnknown } from "./Errors.js"
import { checkCalls, failedCallOf } from "./internal/payments/calls.js"
import { resolvePayment, unknownOf } from "./internal/payments/resolve.js"
import { invalid, objectParams, retrying } from "./internal/sessions/lifecycle.js"
import { Ledger } from "./Ledger.js"
import * as Metrics from "./Metrics.js"
import { Address, decode, type Felt, type TxHash } from "./Schemas.js"
import type { Options } from "./Sessions.js"
import { StarknetRpc } from "./StarknetRpc.js"
import * as Transactions from "./Transactions.js"

export type {
  /**
   * A recorded payment, its reservation and budget charges, as the `Ledger` holds them (see the `Ledger` module).
   *
   * @since 0.1.0
   */
  BudgetCharge,
  Payment,
  PaymentPurpose,
  PaymentStatus,
  PaymentUpdate,
  SessionRef
} from "./Ledger.js"
export {
  /**
   * The ledger of payments, reservations and registrations (see the `Ledger` module).
   *
   * @since 0.1.0
   * @category tags
   */
  Ledger
} from "./Ledger.js"

/**
 * The outcome of a payment, as the chain decides it: `Executed` once its nonce is used (a reverted outside
 * execution leaves it unused), `NotExecuted` once its window has closed with its nonce unused.
 *
 * @since 0.1.0
 * @category models
 */
export type Outcome =
  | { readonly _tag: "Executed"; readonly transactionHash: TxHash }
  | { readonly _tag: "NotExecuted"; readonly nonce: Felt; readonly executeBefore: number }

/**
 * An idempotency key: a non-empty string of at most 255 characters.
 *
 * @since 0.1.0
 * @category schemas
 */
export const IdempotencyKey = Schema.String.pipe(
  Schema.minLength(1, { message: () => "an idempotency key is a non-empty string" }),
  Schema.maxLength(255, { message: () => "an idempotency key is at most 255 characters" })
)

/**
 * Waits until the chain decides the payment recorded under an idempotency key: `Executed` with its transaction
 * hash, or `NotExecuted` once its window has closed with its nonce unused. By default it looks with
 * `Transactions.defaultPolling` until two minutes past the payload's window; when `schedule` ends first, it fails
 * with `OutcomeUnknown`. Fails with `InvalidInput` for a key the ledger does not hold.
 *
 * @since 0.1.0
 * @category lifecycle
 */
export const resolve = (
  params: { readonly wallet: string; readonly idempotencyKey: string },
  schedule?: Schedule.Schedule<unknown, unknown>,
  options: Pick<Options, "retry"> = {}
): Effect.Effect<Outcome, InvalidInput | OutcomeUnknown | LedgerError | CallFailed, StarknetRpc | Ledger> =>
  Effect.gen(function*() {
    yield* objectParams(params)
    const wallet = yield* decode(Address, "wallet")(params.wallet)
    const idempotencyKey = yield* decode(IdempotencyKey, "idempotencyKey")(params.idempotencyKey)
    const ledger = yield* Ledger
    const payment = yield* ledger.payment(wallet, idempotencyKey)
    if (payment === undefined) return yield* invalid("idempotencyKey", "no payload is recorded under this key for this wallet")
    const decided: Outcome | undefined = payment.status === "executed" && payment.transactionHash !== undefined
      ? { _tag: "Executed", transactionHash: payment.transactionHash }
      : payment.status === "not-executed"
      ? { _tag: "NotExecuted", nonce: payment.nonce, executeBefore: payment.executeBefore }
      : undefined
    const now = Math.floor((yield* Clock.currentTimeMillis) / 1000)
    const budget = Duration.seconds(Math.max(0, payment.executeBefore - now) + 120)
    const outcome = decided ?? (yield* resolvePayment(payment, schedule ?? Transactions.defaultPolling.pipe(Schedule.upTo(budget)), options.retry))
    if (outcome === undefined) return yield* unknownOf(payment)
    // Executed is a payment only if each of its calls ran (the account catches a failing one).
    if (outcome._tag === "Executed" && payment.purpose === "execute") {
      const known = failedCallOf({ ...payment, status: "executed", transactionHash: outcome.transactionHash })
      if (known !== undefined) return yield* known
      const rpc = yield* StarknetRpc
      const receipt = yield* retrying(rpc.getTransactionReceipt(outcome.transactionHash).pipe(Effect.catchTag("TransactionNotFound", () => Effect.succeed(undefined))), options.retry).pipe(
        Effect.option,
        Effect.map(Option.flatMap(Option.fromNullable))
      )
      if (receipt._tag === "Some") yield* checkCalls(receipt.value, options)
    }
    return outcome
  }).pipe(Metrics.timedResolve, Effect.withSpan("Sessions.resolve"))
