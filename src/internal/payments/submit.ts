/**
 * The sponsored submission of a signed payload, exactly once: built through the paymaster and checked
 * (`buildPayment`), recorded, sent with its unknown outcomes decided by the chain (`sendPayment`), and the one path
 * every payload takes, its idempotency key first (`submitOnce`).
 */
import { Clock, Duration, Effect, Either, Schema } from "effect"
import type { InvalidInput, LedgerError, OutcomeUnknown, PaymasterError, PolicyViolation, RpcError, TypedDataMismatch } from "../../Errors.js"
import { type BudgetCharge, Ledger, type Payment, type PaymentPurpose } from "../../Ledger.js"
import { messageHash, type OutsideExecutionTypedData, toOutsideCalls } from "../../OutsideExecution.js"
import { Paymaster } from "../../Paymaster.js"
import type { Address, Call, Felt, TxHash } from "../../Schemas.js"
import { type BlockInfo, StarknetRpc } from "../../StarknetRpc.js"
import * as Transactions from "../../Transactions.js"
import { checkTypedData } from "./typed-data.js"
import type { Options } from "../../Sessions.js"
import { invalid, retrying, windowOptions } from "../sessions/lifecycle.js"
import { awaitFence } from "./fence.js"
import { releaseUnlessCounted } from "./reserve.js"
import { lookAt, resolvePayment, unknownOf } from "./resolve.js"

export interface Submission<E, R> {
  readonly wallet: Address
  readonly calls: ReadonlyArray<Call>
  readonly purpose: PaymentPurpose
  readonly sessionPublicKey: Felt
  readonly idempotencyKey: string
  readonly signWith: (hash: Felt, built: { readonly typedData: OutsideExecutionTypedData }) => Effect.Effect<ReadonlyArray<Felt>, E, R>
  readonly options: Options
  /**
   * The latest block the guard has just read (the execute's preflight, moments before the build), used for the
   * window instead of reading it again; `undefined` to read it.
   */
  readonly checkedBlock?: Effect.Effect<BlockInfo | undefined>
  /** The budget charges of the payment (`Policies.check`), recorded with it atomically. */
  readonly charges?: ReadonlyArray<BudgetCharge>
}

/** What the paymaster built for a submission, with the chain id and the block its window was asked from. */
interface Built {
  readonly typedData: OutsideExecutionTypedData
  readonly chainId: Felt
  readonly block: BlockInfo
}

/** Asks the paymaster to build the outside execution, its window from the latest block. Nothing is checked or signed. */
const requestBuild = <E, R>(submission: Submission<E, R>): Effect.Effect<Built, InvalidInput | PaymasterError | RpcError, Paymaster | StarknetRpc> =>
  Effect.gen(function*() {
    const { options, wallet } = submission
    const paymaster = yield* Paymaster
    const rpc = yield* StarknetRpc
    const { validity } = yield* windowOptions(options)
    const checked = submission.checkedBlock === undefined ? undefined : yield* submission.checkedBlock
    const [chainId, block] = yield* Effect.all([
      retrying(rpc.chainId, options.retry),
      checked !== undefined ? Effect.succeed(checked) : retrying(rpc.latestBlock, options.retry)
    ], { concurrency: 2 })
    const timeBounds = { executeAfter: block.timestamp - 1, executeBefore: block.timestamp + validity }
    const built = yield* retrying(paymaster.buildTransaction({ userAddress: wallet, calls: submission.calls, timeBounds }), options.retry)
    return { typedData: built.typedData, chainId, block }
  })

/**
 * Checks the typed data the paymaster built and signs its hash. Nothing is signed unless the typed data says
 * exactly what was asked, in a window we accept. Not recorded, not sent.
 */
const signBuilt = <E, R>(
  submission: Submission<E, R>,
  { block, chainId, typedData }: Built,
  reservation: string | undefined
): Effect.Effect<Payment, E | InvalidInput | TypedDataMismatch, R | Paymaster> =>
  Effect.gen(function*() {
    const { options, wallet } = submission
    const paymaster = yield* Paymaster
    const { tolerance, validity } = yield* windowOptions(options)
    const wall = Math.floor((yield* Clock.currentTimeMillis) / 1000)
    const outsideExecution = yield* checkTypedData(typedData, {
      chainId,
      calls: toOutsideCalls(submission.calls),
      validity,
      clocks: { block: block.timestamp, wall },
      tolerance,
      relayer: options.relayer,
      boundsAsked: paymaster.takesTimeBounds !== false
    })
    const signature = yield* submission.signWith(messageHash(chainId, wallet, outsideExecution), { typedData })
    const recordedAt = yield* Clock.currentTimeMillis
    return {
      wallet,
      idempotencyKey: submission.idempotencyKey,
      purpose: submission.purpose,
      sessionPublicKey: submission.sessionPublicKey,
      nonce: outsideExecution.nonce,
      executeAfter: Number(outsideExecution.executeAfter),
      executeBefore: Number(outsideExecution.executeBefore),
      typedData,
      signature,
      calls: submission.calls,
      firstBlock: block.blockNumber,
      recordedAt,
      status: "pending" as const,
      ...(reservation !== undefined ? { reservation } : {})
    }
  })

const isDuplicatedNonce = (error: PaymasterError) => error.revertReason !== undefined && /duplicated nonce/i.test(error.revertReason)

/**
 * Sends a recorded payload, retrying transient faults. Succeeds with its transaction hash; fails with the
 * paymaster's refusal when the first answer is a refusal (the record says `refused`, the payload stays valid
 * until its window closes); whenever an attempt may have reached the paymaster and no answer settled it, the chain
 * decides (`resolvePayment`, within the retry budget), and an outcome still open is `OutcomeUnknown`. When the
 * payload may have been received before (`received`: an earlier execute sent it), a refusal proves nothing: the
 * copy sent before may have executed (a closed window is refused before a used nonce), so the chain decides too.
 */
const sendPayment = (
  payment: Payment,
  options: Options,
  received = false,
  refiltered = false
): Effect.Effect<TxHash, PaymasterError | OutcomeUnknown | LedgerError | NotExecutedSignal, Paymaster | StarknetRpc | Ledger> =>
  Effect.gen(function*() {
    const paymaster = yield* Paymaster
    const ledger = yield* Ledger
    // A paymaster may open the window a little ahead of our clocks (at most the tolerance): the chain refuses it
    // until then. The later of the wall clock and the latest block is what a submission now would see.
    const opensAt = (payment.executeAfter + 1) * 1000
    const wallMillis = yield* Clock.currentTimeMillis
    if (wallMillis < opensAt) {
      const rpc = yield* StarknetRpc
      const block = yield* Effect.either(retrying(rpc.latestBlock, options.retry))
      const now = Math.max(wallMillis, Either.isRight(block) ? block.right.timestamp * 1000 : 0)
      if (now < opensAt) {
        yield* Effect.logDebug("waiting for the payload's window to open").pipe(Effect.annotateLogs({ opensAt: payment.executeAfter + 1 }))
        yield* Effect.sleep(Duration.millis(opensAt - now))
      }
    }
    let attempt = 0
    let uncertain = received
    const once = Effect.suspend(() => {
      attempt++
      return Effect.logDebug("submitting a signed payload").pipe(
        Effect.annotateLogs({ attempt }),
        Effect.zipRight(paymaster.executeTransaction({ userAddress: payment.wallet, typedData: payment.typedData, signature: payment.signature })),
        Effect.tapError((error) =>
          Effect.sync(() => {
            // Any fault may have happened after the paymaster received the payload.
            if (error.transient) uncertain = true
          }).pipe(
            Effect.zipRight(Effect.logDebug("a submission attempt failed")),
            Effect.annotateLogs({ attempt, code: error.code, transient: error.transient })
          )
        )
      )
    })
    const result = yield* Effect.either(retrying(once, options.retry))
    if (Either.isRight(result)) {
      const { transactionHash } = result.right
      // Sent: a store that cannot write the answer must not turn it into a failure (a LedgerError says nothing was
      // sent). The record stays pending, and the chain settles it.
      yield* ledger.updatePayment(payment.wallet, payment.idempotencyKey, payment.nonce, { status: "submitted", transactionHash }).pipe(
        Effect.catchAll((error) => Effect.logWarning("the ledger could not record a submission's hash; the record stays pending", error))
      )
      return transactionHash
    }
    const error = result.left
    // A paymaster's duplicate filter (AVNU: the same user and nonce within 30 s, stored before its own checks) says
    // an earlier copy reached it, not what became of it: the chain decides.
    const filtered = error.kind === "already-sent"
    if (!uncertain && !filtered && !error.transient && !isDuplicatedNonce(error)) {
      yield* ledger.updatePayment(payment.wallet, payment.idempotencyKey, payment.nonce, {
        status: "refused",
        ...(error.revertReason !== undefined ? { reason: error.revertReason } : { reason: error.message })
      })
      return yield* Effect.fail(error)
    }
    // The answer is unknown (or the nonce is taken): the chain decides.
    yield* Effect.logDebug("the outcome of a submission is unknown; looking at the chain").pipe(Effect.annotateLogs({ attempts: attempt }))
    const outcome = yield* resolvePayment(payment, options.resolution ?? Transactions.defaultRetry, options.retry)
    if (outcome === undefined && filtered && !refiltered) {
      // Refused by the filter and not seen on chain: the copy it saw may have failed before it was sent. Once the
      // filter has forgotten it, that same payload is sent once more, if the chain still says it never ran and its
      // window is still open.
      const resendAt = (yield* Clock.currentTimeMillis) + Duration.toMillis(DUPLICATE_FILTER)
      if (resendAt < payment.executeBefore * 1000) {
        yield* Effect.logDebug("the paymaster's duplicate filter refused a payload the chain has not seen; sending it again once the filter forgets it")
        yield* Effect.sleep(DUPLICATE_FILTER)
        return yield* sendPayment(payment, options, true, true)
      }
    }
    if (outcome === undefined) return yield* unknownOf(payment)
    if (outcome._tag === "NotExecuted") return yield* new NotExecutedSignal()
    return outcome.transactionHash
  }).pipe(Effect.annotateLogs({ wallet: payment.wallet, nonce: payment.nonce, idempotencyKey: payment.idempotencyKey }))

/** How long AVNU's paymaster refuses a signed payload it has seen (`avnu-labs/paymaster`, `endpoint/execute.rs`). */
const DUPLICATE_FILTER = Duration.seconds(31)

/** The payload's window closed unexecuted while it was being sent: a new one may be built. */
class NotExecutedSignal extends Schema.TaggedError<NotExecutedSignal>()("NotExecutedSignal", {}) {}

const isSignal = (error: unknown): error is NotExecutedSignal => error instanceof NotExecutedSignal

/** At most this many payloads are built for one call when each dies unexecuted before its answer is known. */
const MAX_ROUNDS = 3

/** Calls compare equal when they ask the same thing. */
const sameCalls = (a: ReadonlyArray<Call>, b: ReadonlyArray<Call>) =>
  JSON.stringify(toOutsideCalls(a)) === JSON.stringify(toOutsideCalls(b))

/**
 * The one path of every signed payload: the record under the key first (its outcome, or its payload sent again),
 * else a new payload built, recorded (atomically: a concurrent call with the same key wins or loses as a whole)
 * and sent. `guard` runs before anything is sent (the execute's preflight), then `check` (the execute's
 * simulation) while the paymaster builds the new payload: that build only asks (nothing is signed, reserved or
 * recorded until both pass), so its round trip and the check's are one wait. `reserve` holds a call while the
 * payload is signed and sent, kept when it counts (sent, or unknown) and given back on every other exit.
 */
export const submitOnce = <E, R, E2, R2, E3 = never, R3 = never>(
  submission: Submission<E, R>,
  hooks: {
    readonly guard: Effect.Effect<void, E2, R2>
    readonly check?: Effect.Effect<void, E3, R3>
    readonly reserve?: Effect.Effect<string, E2 | LedgerError, R2 | Ledger>
  }
): Effect.Effect<
  TxHash,
  E | E2 | E3 | InvalidInput | TypedDataMismatch | PaymasterError | OutcomeUnknown | RpcError | LedgerError | PolicyViolation,
  R | R2 | R3 | Paymaster | StarknetRpc | Ledger
> =>
  Effect.gen(function*() {
    const ledger = yield* Ledger
    const { idempotencyKey, options, wallet } = submission
    for (let round = 1;; round++) {
      const existing = yield* ledger.payment(wallet, idempotencyKey)
      let replacing: Felt | undefined
      if (existing !== undefined) {
        if (
          existing.purpose !== submission.purpose || BigInt(existing.sessionPublicKey) !== BigInt(submission.sessionPublicKey) ||
          !sameCalls(existing.calls, submission.calls)
        ) {
          return yield* invalid("idempotencyKey", "this key names a payment of other calls (or of another session)")
        }
        if (existing.status === "executed" && existing.transactionHash !== undefined) return existing.transactionHash
        if (existing.status !== "not-executed") {
          const look = yield* lookAt(existing, options.retry)
          if (look === "used") {
            const outcome = yield* resolvePayment(existing, options.resolution ?? Transactions.defaultRetry, options.retry)
            if (outcome?._tag === "Executed") return outcome.transactionHash
            return yield* unknownOf(existing)
          }
          if (look === "open") {
            // Still able to execute: that same payload again, never a new one. Unless every attempt at it was
            // refused, it may have been received already, and a refusal now (ours or the paymaster's) does not say
            // it did not execute: our reads may be older than the copy that ran (nodes disagree, reads lag).
            const received = existing.status !== "refused"
            const checked = yield* Effect.either(hooks.check === undefined ? hooks.guard : Effect.zipRight(hooks.guard, hooks.check))
            if (Either.isLeft(checked)) {
              if (!received) return yield* Effect.fail(checked.left)
              const outcome = yield* resolvePayment(existing, options.resolution ?? Transactions.defaultRetry, options.retry)
              if (outcome === undefined) return yield* unknownOf(existing)
              if (outcome._tag === "Executed") return outcome.transactionHash
              return yield* Effect.fail(checked.left)
            }
            const sent = yield* Effect.either(sendPayment(existing, options, received))
            if (Either.isRight(sent)) return sent.right
            if (!isSignal(sent.left)) return yield* Effect.fail(sent.left)
          } else {
            if (existing.reservation !== undefined) yield* ledger.release(existing.reservation)
            yield* ledger.updatePayment(wallet, idempotencyKey, existing.nonce, { status: "not-executed" })
          }
        }
        replacing = existing.nonce
        if (round >= MAX_ROUNDS) return yield* unknownOf(existing)
        yield* Effect.logDebug("the payload recorded under this key is dead; building a new one")
      }
      yield* hooks.guard
      // Side by side, but decided in order: the check's refusal first, then the build's failure.
      const [checked, requested] = yield* Effect.all([hooks.check ?? Effect.void, requestBuild(submission)], { concurrency: 2, mode: "either" })
      if (Either.isLeft(checked)) return yield* Effect.fail(checked.left)
      if (Either.isLeft(requested)) return yield* Effect.fail(requested.left)
      const request = requested.right
      const attempt = (reservation: string | undefined) =>
        Effect.gen(function*() {
          const built = yield* signBuilt(submission, request, reservation)
          // Recorded before anything is sent; a concurrent call with this key that recorded first wins.
          const stored = yield* ledger.recordPayment(built, {
            ...(replacing !== undefined ? { replacing } : {}),
            ...(submission.charges !== undefined ? { charges: submission.charges } : {})
          })
          // Raced by a call with the same key: its record may hold this very reservation (one per key), then kept.
          if (stored.nonce !== built.nonce) return { raced: true as const, shared: reservation !== undefined && stored.reservation === reservation }
          if (built.purpose === "execute") yield* awaitFence(built, options)
          return { raced: false as const, shared: false, hash: yield* sendPayment(built, options) }
        })
      const outcome = yield* Effect.either(
        hooks.reserve === undefined
          ? attempt(undefined)
          : Effect.acquireUseRelease(
            hooks.reserve,
            attempt,
            (reservation, exit) => releaseUnlessCounted(reservation, exit, wallet, idempotencyKey)
          )
      )
      if (Either.isRight(outcome)) {
        if (!outcome.right.raced) return outcome.right.hash
        continue
      }
      if (isSignal(outcome.left)) {
        if (round >= MAX_ROUNDS) {
          const dead = yield* ledger.payment(wallet, idempotencyKey)
          if (dead !== undefined) return yield* unknownOf(dead)
        }
        continue
      }
      return yield* Effect.fail(outcome.left)
    }
  })

export const newKey = (prefix: string) => `${prefix}${globalThis.crypto.randomUUID()}`
