/**
 * The session-key lifecycle as Effects: create a key locally, register it on the wallet (owner-signed,
 * sponsored), execute calls signed by the session key, revoke it. Every operation checks locally what the chain
 * would refuse before anything is signed or sent, and every signed payload is recorded in the `Ledger` before it
 * is sent, so that a payment moves at most once (see docs/exactly-once.md).
 *
 * @since 0.1.0
 */
import { Cause, Clock, Duration, Effect, Either, Exit, Option, ParseResult, Redacted, Ref, Schedule, Schema } from "effect"
import { SELECTORS } from "./Constants.js"
import { carries } from "./internal/scan.js"
import { Crypto } from "./Crypto.js"
import {
  CallFailed,
  type CallWouldFail,
  type Dropped,
  EntrypointNotAllowed,
  InvalidInput,
  type InvalidPin,
  type LedgerError,
  LivePayloads,
  OutcomeUnknown,
  PaymasterError,
  type PolicyViolation,
  type SignerError,
  type Reverted,
  type RpcError,
  type SessionRefusal,
  type Timeout,
  type TransactionNotFound,
  type TypedDataMismatch,
  type WalletHalted
} from "./Errors.js"
import { accountNonce, failedCall, simulationRefusal } from "./internal/callcheck.js"
import { checkTypedData } from "./internal/check.js"
import { parseNumeric, toHex, U64_MAX } from "./internal/felt.js"
import {
  preflight as preflightCheck,
  readAllowedEntrypoints,
  readChainState,
  readPolicy,
  verdict as chainVerdict
} from "./internal/preflight.js"
import { allowance, splitU256, TRACKED_SELECTORS, U256_MAX, windowOverflowsAt } from "./internal/spending.js"
import { forgetView } from "./internal/views.js"
import { Presigned, presign, revokeCalls, sendPresigned } from "./internal/automations/presign.js"
import { type BudgetCharge, Ledger, type Payment, type PaymentPurpose, type SessionRef, settle as settleFinal } from "./Ledger.js"
import * as Policies from "./Policies.js"
import { Signer } from "./Signer.js"
import * as Metrics from "./Metrics.js"
import {
  addOrUpdateSessionKeyCalldata,
  messageHash,
  type OutsideExecutionTypedData,
  ownerSignature,
  sessionKeyCalldata,
  sessionSignature,
  toOutsideCalls
} from "./OutsideExecution.js"
import { Paymaster } from "./Paymaster.js"
import {
  Address,
  Call,
  callSelector,
  decode,
  Felt,
  SessionConfig,
  type SessionData,
  sessionDataFromFelts,
  SessionKeyData,
  type TxHash,
  WalletData
} from "./Schemas.js"
import { type BlockInfo, type Receipt, StarknetRpc } from "./StarknetRpc.js"
import * as Transactions from "./Transactions.js"

export {
  /**
   * The ledger of payments, reservations and registrations (see the `Ledger` module).
   *
   * @since 0.1.0
   * @category tags
   */
  Ledger,
  /**
   * The in-memory `Ledger`. One per process (or per set of sessions that share a wallet).
   *
   * @since 0.1.0
   * @category layers
   */
  layer
} from "./Ledger.js"

// ---------------------------------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------------------------------

/**
 * A PIN: plain text is accepted for the guide's shapes, and wrapped in `Redacted` at once.
 *
 * @since 0.1.0
 * @category models
 */
export type Pin = string | Redacted.Redacted<string>

const invalid = (path: string, rule: string) => new InvalidInput({ path, rule, issues: [{ path, rule }] })

const toPin = (pin: Pin, path: string): Effect.Effect<Redacted.Redacted<string>, InvalidInput> => {
  const value = Redacted.isRedacted(pin) ? Redacted.value(pin) : pin
  return typeof value === "string" && value.length > 0
    ? Effect.succeed(Redacted.isRedacted(pin) ? pin : Redacted.make(pin))
    : Effect.fail(invalid(path, "a non-empty PIN is required"))
}

/** Parameters must be an object before any field is read (a missing argument is a typed error, not a throw). */
const objectParams = <P>(params: P): Effect.Effect<P, InvalidInput> =>
  typeof params === "object" && params !== null ? Effect.succeed(params) : Effect.fail(invalid("", "parameters must be an object"))

/**
 * The failures the lifecycle retries when they are transient: what a `retry` schedule is fed.
 *
 * @since 0.1.0
 * @category models
 */
export type Retried = RpcError | PaymasterError

/**
 * Options shared by the lifecycle operations.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * Retries of transient RPC and paymaster faults (default `Transactions.defaultRetry`). The schedule is fed the
   * error, so an error-aware schedule (`Schedule.recurWhile((e: Retried) => e.code !== 429)`, …) fits.
   */
  readonly retry?: Schedule.Schedule<unknown, Retried>
  /**
   * When an attempt may have reached the paymaster and no answer settled it, how long to look at the chain for the
   * outcome before failing with `OutcomeUnknown` (default `Transactions.defaultRetry`'s delays).
   */
  readonly resolution?: Schedule.Schedule<unknown, unknown>
  /** How long the signed outside execution stays valid: 1 second to 1 day, default 2 minutes. */
  readonly validity?: Duration.DurationInput
  /**
   * How far a paymaster's clock may run from ours (the latest block's timestamp and the wall clock) when it sets
   * the window itself (default 60 seconds). See docs/exactly-once.md.
   */
  readonly clockTolerance?: Duration.DurationInput
  /** Pin the relayer: typed data naming another specific caller is refused. */
  readonly relayer?: string
}

/**
 * Options of an execute.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExecuteOptions extends Options {
  /**
   * Names one payment across retries, processes (with a durable `Ledger`) and restarts. While the payload signed
   * for it can still execute, an execute with the same key sends that same payload again, never a new one; once
   * its window has closed unexecuted, a new one is built. Without a key every execute is a new payment.
   */
  readonly idempotencyKey?: string
  /**
   * Send without simulating the calls first (default false). The account runs a multicall's calls non-atomically:
   * a call that fails (an amount above the balance, an entrypoint the contract lacks, short calldata) is caught,
   * the transaction SUCCEEDS and uses one of the session's calls, and that call moves nothing. By default every
   * execute simulates its calls on the state the network executes on and refuses such a call with
   * `CallWouldFail` before anything is signed; skipping it saves one or two reads per execute, and a failed call is
   * then found only after execution (`Sessions.wait`: `CallFailed`).
   */
  readonly skipSimulation?: boolean
}

/**
 * Options of `register`.
 *
 * @since 0.1.0
 * @category models
 */
export interface RegisterOptions extends Options {
  /**
   * When the session key still has signed payloads that did not execute inside their windows, wait until the last
   * window closes (block time) instead of failing with `LivePayloads`.
   */
  readonly waitForLivePayloads?: boolean
}

/**
 * Every failure of a sponsored submission.
 *
 * @since 0.1.0
 * @category errors
 */
export type SubmitError = InvalidInput | InvalidPin | TypedDataMismatch | PaymasterError | OutcomeUnknown | RpcError | LedgerError

/**
 * Every failure of a session execute.
 *
 * @since 0.1.0
 * @category errors
 */
export type ExecuteError = SubmitError | SessionRefusal | CallWouldFail | CallFailed | PolicyViolation | WalletHalted | SignerError

/**
 * Every failure of `register`.
 *
 * @since 0.1.0
 * @category errors
 */
export type RegisterError = SubmitError | LivePayloads

const DEFAULT_VALIDITY = Duration.minutes(2)
const MAX_VALIDITY = Duration.days(1)
const DEFAULT_TOLERANCE = Duration.seconds(60)
/** The most calldata felts an execute may carry, in all its calls (far above what a sequencer accepts). */
const MAX_CALLDATA = 10_000

const seconds = (input: unknown, path: string, fallback: Duration.Duration, min: Duration.Duration, max: Duration.Duration) =>
  Effect.suspend(() => {
    if (input === undefined) return Effect.succeed(Math.ceil(Duration.toSeconds(fallback)))
    const decoded = Duration.decodeUnknown(input)
    if (Option.isNone(decoded)) return Effect.fail(invalid(path, "must be a duration (\"2 minutes\", milliseconds, a Duration)"))
    const d = decoded.value
    if (!Duration.isFinite(d) || Duration.lessThan(d, min) || Duration.greaterThan(d, max)) {
      return Effect.fail(invalid(path, `must be between ${Duration.format(min)} and ${Duration.format(max)}`))
    }
    return Effect.succeed(Math.ceil(Duration.toSeconds(d)))
  })

const windowOptions = (options: Options) =>
  Effect.all({
    validity: seconds(options.validity, "options.validity", DEFAULT_VALIDITY, Duration.seconds(1), MAX_VALIDITY),
    tolerance: seconds(options.clockTolerance, "options.clockTolerance", DEFAULT_TOLERANCE, Duration.zero, Duration.hours(1)),
    // A pinned relayer is an address, checked here, not only when a payload names a specific caller.
    relayer: options.relayer === undefined ? Effect.void : Effect.asVoid(decode(Address, "options.relayer")(options.relayer))
  })

const retrying = <A, E extends Retried, R>(effect: Effect.Effect<A, E, R>, schedule: Options["retry"]): Effect.Effect<A, E, R> =>
  Effect.retry(effect, {
    schedule: schedule ?? Transactions.defaultRetry,
    while: (error) => {
      if (!error.transient) return false
      return Effect.as(Effect.logDebug("retrying a transient fault").pipe(Effect.annotateLogs({ code: error.code, error: error._tag })), true)
    }
  })

// ---------------------------------------------------------------------------------------------------------------
// Create
// ---------------------------------------------------------------------------------------------------------------

const CreateParams = Schema.Struct({
  durationSeconds: Schema.optionalWith(
    Schema.Number.pipe(Schema.int(), Schema.positive({ message: () => "durationSeconds must be a positive integer" })),
    { default: () => 6 * 60 * 60 }
  )
})

/**
 * Creates a session key locally: a fresh key pair, the private key encrypted under the PIN. Nothing on chain yet.
 * `validUntil` is now (from `Clock`) plus `durationSeconds` (default 6 hours).
 *
 * @since 0.1.0
 * @category lifecycle
 */
export const createSessionKey = (params: {
  readonly encryptKey: Pin
  readonly durationSeconds?: number
  /** A policy stored with the key in the `Ledger` (`Policies.attach`): checked before every payment it signs. */
  readonly policy?: Policies.PolicyInput
}): Effect.Effect<SessionKeyData, InvalidInput | LedgerError, Crypto> =>
  Effect.scoped(
    Effect.gen(function*() {
      yield* objectParams(params)
      const pin = yield* toPin(params.encryptKey, "encryptKey")
      const { durationSeconds } = yield* decode(CreateParams)(params)
      // A policy is checked before the key is made: a bad one creates nothing.
      if (params.policy !== undefined) yield* Policies.decodePolicy(params.policy)
      const crypto = yield* Crypto
      const now = yield* Clock.currentTimeMillis
      const pair = yield* crypto.generateKeyPair
      const encryptedPrivateKey = yield* crypto.encryptPrivateKey(pair.privateKey, pin)
      const validUntil = Math.floor(now / 1000) + durationSeconds
      // With a ledger at hand, registering this key later is checked against its own validUntil.
      const ledger = yield* Effect.serviceOption(Ledger)
      if (ledger._tag === "Some") {
        yield* ledger.value.rememberKey(pair.publicKey, validUntil).pipe(
          Effect.catchAll((error) => Effect.logWarning("the ledger could not remember a new session key", error))
        )
      }
      if (params.policy !== undefined) {
        if (ledger._tag === "None") return yield* invalid("policy", "a session's policy is stored in the Ledger: provide one")
        yield* Policies.attach({ sessionPublicKey: pair.publicKey, policy: params.policy }).pipe(Effect.provideService(Ledger, ledger.value))
      }
      return { publicKey: pair.publicKey, encryptedPrivateKey, validUntil }
    })
  )

// ---------------------------------------------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------------------------------------------

const readStored = (wallet: Address, sessionPublicKey: Felt, retry: Options["retry"]) =>
  Effect.gen(function*() {
    const rpc = yield* StarknetRpc
    const [felts, block] = yield* Effect.all([
      retrying(
        rpc.call({ contractAddress: wallet, entrypoint: SELECTORS.get_session_data, calldata: sessionKeyCalldata(sessionPublicKey) }),
        retry
      ),
      retrying(rpc.latestBlock, retry)
    ], { concurrency: 2 })
    return { data: sessionDataFromFelts(felts, block.timestamp), now: block.timestamp }
  })

/**
 * Reads a session's data from the wallet, in the contract's order, with `isActive` (registered, not expired at
 * block time, calls left) and `remainingCalls` derived, and its allow-list's selectors (`allowedEntrypoints`, read
 * in one batch from the account's `get_session_allowed_entrypoint_at`).
 *
 * @since 0.1.0
 * @category reads
 */
export const getSessionData = (
  params: { readonly walletAddress: string; readonly sessionPublicKey: string },
  options: Pick<Options, "retry"> = {}
): Effect.Effect<SessionData, InvalidInput | RpcError, StarknetRpc> =>
  Effect.gen(function*() {
    yield* objectParams(params)
    const walletAddress = yield* decode(Address, "walletAddress")(params.walletAddress)
    const sessionPublicKey = yield* decode(Felt, "sessionPublicKey")(params.sessionPublicKey)
    const { data } = yield* readStored(walletAddress, sessionPublicKey, options.retry)
    const allowedEntrypoints = yield* readAllowedEntrypoints(walletAddress, sessionPublicKey, data.allowedEntrypointsLen, options.retry)
    return allowedEntrypoints !== undefined ? { ...data, allowedEntrypoints } : data
  })

// ---------------------------------------------------------------------------------------------------------------
// What the chain says about a recorded payload
// ---------------------------------------------------------------------------------------------------------------

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

type Look = "used" | "dead" | "open"

/**
 * One look. The nonce on the state the network executes on (`pre_confirmed`): used there means executed (in a
 * closed block, or in the block being built). Unused there says "dead" only past the window, and only as read at a
 * closed block fetched first: a `latest` answered by a node that lags behind the one that gave the block could show
 * a used nonce unused at a time past the window, and call an executed payment dead.
 */
const lookAt = (payment: Payment, retry: Options["retry"]): Effect.Effect<Look, RpcError, StarknetRpc> =>
  Effect.gen(function*() {
    const rpc = yield* StarknetRpc
    const nonceAt = (blockNumber?: number) =>
      retrying(
        rpc.call({
          contractAddress: payment.wallet,
          entrypoint: "is_valid_outside_execution_nonce",
          calldata: [payment.nonce],
          ...(blockNumber !== undefined ? { blockNumber } : {})
        }),
        retry
      ).pipe(Effect.map(([valid]) => (valid === undefined ? undefined : BigInt(valid) !== 0n)))
    const [block, atHead] = yield* Effect.all([retrying(rpc.latestBlock, retry), nonceAt()], { concurrency: 2 })
    // An answer without a value decides nothing.
    if (atHead === undefined) return "open"
    if (!atHead) return "used"
    if (block.timestamp < payment.executeBefore) return "open"
    const valid = yield* nonceAt(block.blockNumber)
    if (valid === undefined) return "open"
    return valid ? "dead" : "used"
  })

/** Blocks read per look while searching for a transaction (read together: one batch over HTTP). */
const SCAN_BATCH = 20

/**
 * Looks for the transaction that executed a payload in the blocks from `cursor` to the latest: the relayer's
 * invoke whose calldata carries the payload's nonce, and that succeeded. Moves the cursor on.
 */
const findTransaction = (payment: Payment, cursor: Ref.Ref<number>, retry: Options["retry"]) =>
  Effect.gen(function*() {
    const rpc = yield* StarknetRpc
    const latest = (yield* retrying(rpc.latestBlock, retry)).blockNumber
    const wallet = BigInt(payment.wallet)
    const nonce = BigInt(payment.nonce)
    while ((yield* Ref.get(cursor)) <= latest) {
      const from = yield* Ref.get(cursor)
      const numbers = Array.from({ length: Math.min(SCAN_BATCH, latest - from + 1) }, (_, i) => from + i)
      const blocks = yield* Effect.forEach(numbers, (n) => retrying(rpc.getBlockWithTxs(n), retry), { concurrency: SCAN_BATCH })
      const candidates = blocks.flatMap((b) => b.transactions.filter((tx) => carries(tx.calldata, wallet, nonce)))
      let unknown = false
      for (const tx of candidates) {
        const receipt = yield* retrying(
          rpc.getTransactionReceipt(tx.transactionHash).pipe(Effect.catchTag("TransactionNotFound", () => Effect.succeed(undefined))),
          retry
        )
        if (receipt !== undefined && Transactions.isFinal(receipt) && receipt.executionStatus === "SUCCEEDED") return tx.transactionHash
        // A node that served the block may be ahead of the one asked for the receipt (which does not know it, or
        // has it only pre-confirmed): look at these blocks again.
        if (receipt === undefined || !Transactions.isFinal(receipt)) unknown = true
      }
      if (unknown) return undefined
      yield* Ref.set(cursor, from + numbers.length)
    }
    // Executed in the block being built: pre-confirmed, its outcome known (it is lost only if that block is not
    // finalised, and then its nonce is unused again).
    const pre = yield* retrying(rpc.getBlockWithTxs("pre_confirmed"), retry).pipe(Effect.option)
    if (pre._tag === "None") return undefined
    for (const tx of pre.value.transactions.filter((t) => carries(t.calldata, wallet, nonce))) {
      const status = yield* retrying(rpc.getTransactionStatus(tx.transactionHash).pipe(Effect.catchTag("TransactionNotFound", () => Effect.succeed(undefined))), retry).pipe(Effect.option)
      if (status._tag === "Some" && status.value?.executionStatus === "SUCCEEDED") return tx.transactionHash
    }
    return undefined
  })

/**
 * Looks at the chain until the outcome of a payload is known or `schedule` ends (then `undefined`). Reads that fail
 * leave the outcome open. The record learns what is found.
 */
const resolvePayment = (
  payment: Payment,
  schedule: Schedule.Schedule<unknown, unknown>,
  retry: Options["retry"]
): Effect.Effect<Outcome | undefined, LedgerError, StarknetRpc | Ledger> =>
  Effect.gen(function*() {
    const ledger = yield* Ledger
    const cursor = yield* Ref.make(payment.firstBlock)
    const decided = yield* Ref.make<Outcome | undefined>(undefined)
    const step = Effect.gen(function*() {
      const look = yield* lookAt(payment, retry)
      if (look === "open") return
      if (look === "dead") return yield* Ref.set(decided, { _tag: "NotExecuted", nonce: payment.nonce, executeBefore: payment.executeBefore })
      const found = payment.transactionHash !== undefined && payment.status === "executed"
        ? payment.transactionHash
        : yield* findTransaction(payment, cursor, retry)
      if (found !== undefined) yield* Ref.set(decided, { _tag: "Executed", transactionHash: found })
    }).pipe(
      Effect.catchAll((error) => Effect.logDebug("a look at the chain failed; the outcome stays open", error)),
      Effect.zipRight(Ref.get(decided))
    )
    yield* Effect.repeat(step, { schedule, until: (outcome) => outcome !== undefined })
    const outcome = yield* Ref.get(decided)
    if (outcome?._tag === "Executed") {
      yield* ledger.updatePayment(payment.wallet, payment.idempotencyKey, payment.nonce, { status: "executed", transactionHash: outcome.transactionHash }).pipe(
        Effect.catchAll((error) => Effect.logWarning("the ledger could not record an executed payment; the record stays open", error))
      )
    } else if (outcome?._tag === "NotExecuted") {
      if (payment.reservation !== undefined) yield* ledger.release(payment.reservation)
      yield* ledger.updatePayment(payment.wallet, payment.idempotencyKey, payment.nonce, { status: "not-executed" })
    }
    return outcome
  }).pipe(Effect.annotateLogs({ wallet: payment.wallet, nonce: payment.nonce, idempotencyKey: payment.idempotencyKey }))

const unknownOf = (payment: Payment) =>
  new OutcomeUnknown({
    wallet: payment.wallet,
    nonce: payment.nonce,
    executeBefore: payment.executeBefore,
    idempotencyKey: payment.idempotencyKey
  })

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

const IdempotencyKey = Schema.String.pipe(
  Schema.minLength(1, { message: () => "an idempotency key is a non-empty string" }),
  Schema.maxLength(255, { message: () => "an idempotency key is at most 255 characters" })
)

// ---------------------------------------------------------------------------------------------------------------
// Sponsored submission: build, check, sign, record, send
// ---------------------------------------------------------------------------------------------------------------

interface Submission<E, R> {
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

/**
 * Builds the outside execution through the paymaster, checks the typed data it returns and signs its hash.
 * Nothing is signed unless the typed data says exactly what was asked, in a window we accept. Not recorded, not
 * sent.
 */
const buildPayment = <E, R>(
  submission: Submission<E, R>,
  reservation: string | undefined
): Effect.Effect<Payment, E | InvalidInput | TypedDataMismatch | PaymasterError | RpcError, R | Paymaster | StarknetRpc> =>
  Effect.gen(function*() {
    const { options, wallet } = submission
    const paymaster = yield* Paymaster
    const rpc = yield* StarknetRpc
    const { tolerance, validity } = yield* windowOptions(options)
    const checked = submission.checkedBlock === undefined ? undefined : yield* submission.checkedBlock
    const [chainId, block] = yield* Effect.all([
      retrying(rpc.chainId, options.retry),
      checked !== undefined ? Effect.succeed(checked) : retrying(rpc.latestBlock, options.retry)
    ], { concurrency: 2 })
    const wall = Math.floor((yield* Clock.currentTimeMillis) / 1000)
    const timeBounds = { executeAfter: block.timestamp - 1, executeBefore: block.timestamp + validity }
    const built = yield* retrying(paymaster.buildTransaction({ userAddress: wallet, calls: submission.calls, timeBounds }), options.retry)
    const outsideExecution = yield* checkTypedData(built.typedData, {
      chainId,
      calls: toOutsideCalls(submission.calls),
      validity,
      clocks: { block: block.timestamp, wall },
      tolerance,
      relayer: options.relayer,
      boundsAsked: paymaster.takesTimeBounds !== false
    })
    const signature = yield* submission.signWith(messageHash(chainId, wallet, outsideExecution), { typedData: built.typedData })
    const recordedAt = yield* Clock.currentTimeMillis
    return {
      wallet,
      idempotencyKey: submission.idempotencyKey,
      purpose: submission.purpose,
      sessionPublicKey: submission.sessionPublicKey,
      nonce: outsideExecution.nonce,
      executeAfter: Number(outsideExecution.executeAfter),
      executeBefore: Number(outsideExecution.executeBefore),
      typedData: built.typedData,
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
 * and sent. `guard` runs before anything is sent (the execute's preflight); `reserve` holds a call while a new
 * payload is built and sent, kept when it counts (sent, or unknown) and given back on every other exit.
 */
const submitOnce = <E, R, E2, R2>(
  submission: Submission<E, R>,
  hooks: {
    readonly guard: Effect.Effect<void, E2, R2>
    readonly reserve?: Effect.Effect<string, E2 | LedgerError, R2 | Ledger>
  }
): Effect.Effect<
  TxHash,
  E | E2 | InvalidInput | TypedDataMismatch | PaymasterError | OutcomeUnknown | RpcError | LedgerError | PolicyViolation,
  R | R2 | Paymaster | StarknetRpc | Ledger
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
            const checked = yield* Effect.either(hooks.guard)
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
      const attempt = (reservation: string | undefined) =>
        Effect.gen(function*() {
          const built = yield* buildPayment(submission, reservation)
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

/**
 * A reserved call counts when its payload was sent (the chain may count it): a hash, or an unknown outcome. Every
 * other exit gives it back, unless the ledger records a payload holding it that it cannot call dead: a payload
 * recorded and handed to the paymaster may run whatever ended this fiber (an interruption, a defect, a fault of
 * the ledger after the send), so its call stays reserved until the chain decides it (`reclaimDead`, `resolve`,
 * `Transactions.wait`). A reservation whose record cannot be read is kept: a call held too long is a refusal
 * `reclaimDead` undoes, a call given back too early sends a payload the chain refuses.
 */
const releaseUnlessCounted = (
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
const failedUnknown = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isFailure(exit) &&
  Option.exists(Cause.failureOption(exit.cause), (e) => typeof e === "object" && e !== null && (e as { _tag?: unknown })._tag === "OutcomeUnknown")

/** `Ledger.reserve`; when it refuses, the calls of payloads the chain can no longer run come back and it is asked again. */
const reserveLive = (
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

const newKey = (prefix: string) => `${prefix}${globalThis.crypto.randomUUID()}`

// ---------------------------------------------------------------------------------------------------------------
// Owner submissions: register and revoke
// ---------------------------------------------------------------------------------------------------------------

/** Decrypts the owner key of a wallet into the scope, checked against the account's public key. */
const ownerKey = (wallet: WalletData, pin: Redacted.Redacted<string>, retry: Options["retry"]) =>
  Effect.gen(function*() {
    const rpc = yield* StarknetRpc
    const crypto = yield* Crypto
    const [publicKey] = yield* retrying(rpc.call({ contractAddress: wallet.publicKey, entrypoint: "get_public_key", calldata: [] }), retry)
    if (publicKey === undefined) return yield* invalid("wallet.publicKey", "the account did not answer get_public_key")
    return yield* crypto.decryptPrivateKey(wallet.encryptedPrivateKey, pin, publicKey)
  })

/**
 * An owner-signed, sponsored call of the account on itself; once a (re-)registration or revocation is sent (or its
 * outcome is unknown), the ledger's count of the session it concerns starts afresh (the chain resets its count
 * too). A spending-policy change leaves the session's count as it is, on chain and here.
 */
const ownerSubmit = (
  params: { readonly encryptKey: Pin; readonly wallet: unknown },
  entrypoint: "add_or_update_session_key" | "revoke_session_key" | "set_spending_policy" | "remove_spending_policy",
  calldata: ReadonlyArray<Felt>,
  sessionPublicKey: Felt,
  allowedEntrypoints: ReadonlyArray<Felt> | undefined,
  options: Options,
  idempotencyKey = newKey(`${entrypoint}:`)
) =>
  Effect.scoped(
    Effect.gen(function*() {
      const pin = yield* toPin(params.encryptKey, "encryptKey")
      const wallet = yield* decode(WalletData, "wallet")(params.wallet)
      const crypto = yield* Crypto
      const ledger = yield* Ledger
      const key = yield* ownerKey(wallet, pin, options.retry)
      const reset = entrypoint === "add_or_update_session_key" || entrypoint === "revoke_session_key"
        ? ledger.resetSession({ wallet: wallet.publicKey, sessionPublicKey }, allowedEntrypoints)
        : Effect.void
      // The session's state changes from here: no execute reuses what was read of it before.
      yield* forgetView(wallet.publicKey, sessionPublicKey)
      const txHash = yield* submitOnce({
        wallet: wallet.publicKey,
        calls: [{ contractAddress: wallet.publicKey, entrypoint, calldata }],
        purpose: entrypoint === "revoke_session_key" ? "revoke" : entrypoint === "add_or_update_session_key" ? "register" : "policy",
        sessionPublicKey,
        idempotencyKey,
        signWith: (hash) => crypto.sign(hash, key).pipe(Effect.map(ownerSignature)),
        options
      }, { guard: Effect.void }).pipe(
        // Owner submissions carry no budget charges: the ledger never refuses them for a budget.
        Effect.catchTag("PolicyViolation", Effect.die),
        Effect.tapErrorTag("OutcomeUnknown", () => reset),
        // Also what a concurrent execute read meanwhile.
        Effect.ensuring(forgetView(wallet.publicKey, sessionPublicKey))
      )
      yield* reset
      return txHash
    })
  )

/**
 * The payloads a session key signed that did not execute and are still inside their windows: replayable once the
 * key is registered again. Each is looked at on chain first (an executed or dead one is no risk, and its record
 * learns it).
 */
const livePayloads = (wallet: Address, sessionPublicKey: Felt, retry: Options["retry"], which: (p: Payment) => boolean) =>
  Effect.gen(function*() {
    const ledger = yield* Ledger
    const open = (yield* ledger.openPayments({ wallet, sessionPublicKey })).filter((p) => p.purpose === "execute" && which(p))
    const looks = yield* Effect.forEach(open, (p) => Effect.map(lookAt(p, retry), (look) => [p, look] as const), { concurrency: 10 })
    const live: Array<Payment> = []
    for (const [p, look] of looks) {
      // A used nonce is no risk; its record learns the transaction when it is resolved.
      if (look === "open") live.push(p)
      else if (look === "dead") {
        if (p.reservation !== undefined) yield* ledger.release(p.reservation)
        yield* ledger.updatePayment(p.wallet, p.idempotencyKey, p.nonce, { status: "not-executed" })
      }
    }
    return live
  })

/**
 * Fails with `LivePayloads` while the key has live unexecuted payloads (those `which` keeps: the ones the change
 * could revive), or waits them out.
 */
const guardReplays = (wallet: Address, sessionPublicKey: Felt, options: RegisterOptions, which: (p: Payment) => boolean = () => true) =>
  Effect.gen(function*() {
    const rpc = yield* StarknetRpc
    for (;;) {
      const live = yield* livePayloads(wallet, sessionPublicKey, options.retry, which)
      if (live.length === 0) return
      const safeAt = Math.max(...live.map((p) => p.executeBefore))
      if (options.waitForLivePayloads !== true) {
        return yield* new LivePayloads({ wallet, sessionPublicKey, nonces: live.map((p) => p.nonce), safeAt })
      }
      yield* Effect.logDebug("waiting for the session's live payloads to expire").pipe(Effect.annotateLogs({ safeAt }))
      yield* retrying(rpc.latestBlock, options.retry).pipe(
        Effect.repeat({ schedule: Transactions.defaultPolling, until: (block) => block.timestamp >= safeAt })
      )
    }
  })

/** How long a fence holds at most: the longest window an owner change's payload may get, and a margin. */
const fenceSpan = (options: Options) =>
  Effect.map(windowOptions(options), ({ tolerance, validity }) => (Math.max(validity, 600) + tolerance + 60) * 1000)

/**
 * An owner change that can revive the session's refused payloads (a re-registration, a loosened spending policy),
 * behind a fence (`Ledger.fence`) set before the replay guard reads the payloads it could revive (those `which`
 * keeps): an execute recording a payload meanwhile either is seen by the guard or sees the fence and waits for the
 * change to be decided before sending. The fence stays once the change may have been sent (its outcome clears it),
 * and is lifted on every other exit.
 */
const revivingChange = (
  params: { readonly encryptKey: Pin; readonly wallet: unknown },
  session: SessionRef,
  entrypoint: "add_or_update_session_key" | "set_spending_policy" | "remove_spending_policy",
  calldata: ReadonlyArray<Felt>,
  allowedEntrypoints: ReadonlyArray<Felt> | undefined,
  options: RegisterOptions,
  which?: (p: Payment) => boolean
) =>
  Effect.gen(function*() {
    const ledger = yield* Ledger
    const idempotencyKey = newKey(`${entrypoint}:`)
    const span = yield* fenceSpan(options)
    const now = yield* Clock.currentTimeMillis
    yield* ledger.fence(session, { idempotencyKey, until: now + span })
    return yield* Effect.zipRight(
      guardReplays(session.wallet, session.sessionPublicKey, options, which),
      ownerSubmit(params, entrypoint, calldata, session.sessionPublicKey, allowedEntrypoints, options, idempotencyKey)
    ).pipe(
      Effect.onExit((exit) =>
        Exit.isSuccess(exit) || failedUnknown(exit) ? Effect.void : ledger.clearFence(session, idempotencyKey).pipe(Effect.ignoreLogged)
      )
    )
  })

/** How often an execute looks again at an owner change it waits for before it is recorded. */
const FENCE_POLL = Duration.millis(500)

/**
 * Before a new payload of a session is sent: an owner change of that session in progress (a fence) is waited out
 * until the chain decides it, so a payload refused now can never be revived by it a moment later.
 */
const awaitFence = (payment: Payment, options: Options): Effect.Effect<void, LedgerError, StarknetRpc | Ledger> =>
  Effect.gen(function*() {
    const ledger = yield* Ledger
    const session = { wallet: payment.wallet, sessionPublicKey: payment.sessionPublicKey }
    for (;;) {
      const now = yield* Clock.currentTimeMillis
      const fence = yield* ledger.fenceOf(session, now)
      if (fence === undefined) return
      const change = yield* ledger.payment(payment.wallet, fence.idempotencyKey)
      if (change === undefined) {
        // Not recorded yet (being built), or its process stopped before: the fence lapses at its `until`.
        yield* Effect.sleep(Duration.min(FENCE_POLL, Duration.millis(Math.max(1, fence.until - now))))
        continue
      }
      if (change.status !== "executed" && change.status !== "not-executed") {
        yield* Effect.logDebug("an owner change of the session is in flight; waiting for the chain to decide it before sending")
        const budget = Duration.seconds(Math.max(0, change.executeBefore - Math.floor(now / 1000)) + 120)
        // Decided once its nonce is used on the state the network executes on (pre-confirmed will do: the payload
        // sent next executes after it), or its window has closed unused.
        const look = yield* lookAt(change, options.retry).pipe(
          Effect.orElseSucceed((): Look => "open"),
          Effect.repeat({ schedule: Transactions.defaultPolling.pipe(Schedule.upTo(budget)), until: (l) => l !== "open" })
        )
        if (look === "open") continue
      }
      yield* ledger.clearFence(session, fence.idempotencyKey)
    }
  })

/**
 * Registers a session key on the wallet: an owner-signed, sponsored `add_or_update_session_key`. The config is
 * checked first (valid_until in the future at block time and not beyond the session key's own `validUntil` when the
 * key is given, maxCalls a u32 >= 1, selectors valid); nothing is signed otherwise. When the key still has signed
 * payloads that did not execute inside their windows (refused, reverted, unresolved), registering it again would
 * make them replayable: it fails with `LivePayloads` naming when it becomes safe (or waits, with
 * `waitForLivePayloads`). To start a session afresh, create a new key.
 *
 * @since 0.1.0
 * @category lifecycle
 */
export const register = (
  params: {
    readonly encryptKey: Pin
    readonly wallet: { readonly publicKey: string; readonly encryptedPrivateKey: string }
    readonly sessionConfig: {
      readonly sessionPublicKey: string
      readonly validUntil: number
      readonly maxCalls: number
      readonly allowedEntrypoints?: ReadonlyArray<string>
    }
    /** The session key being registered: its `validUntil` bounds the config's (a key created in this process with a `Ledger` at hand is known without it). */
    readonly session?: { readonly publicKey: string; readonly validUntil: number }
  },
  options: RegisterOptions = {}
): Effect.Effect<TxHash, RegisterError, Crypto | Paymaster | StarknetRpc | Ledger> =>
  Effect.gen(function*() {
    yield* objectParams(params)
    const config = yield* decode(SessionConfig, "sessionConfig")(params.sessionConfig)
    const wallet = yield* decode(WalletData, "wallet")(params.wallet)
    yield* Effect.annotateCurrentSpan({ wallet: wallet.publicKey, sessionPublicKey: config.sessionPublicKey })
    yield* windowOptions(options)
    const rpc = yield* StarknetRpc
    const block = yield* retrying(rpc.latestBlock, options.retry)
    if (config.validUntil <= block.timestamp) {
      return yield* invalid("sessionConfig.validUntil", `validUntil ${config.validUntil} is not in the future (block time ${block.timestamp})`)
    }
    const ledger = yield* Ledger
    const remembered = yield* ledger.keyValidUntil(config.sessionPublicKey)
    const session = params.session ?? (remembered !== undefined ? { publicKey: config.sessionPublicKey, validUntil: remembered } : undefined)
    if (session !== undefined) {
      if (typeof session !== "object" || session === null || typeof session.validUntil !== "number") {
        return yield* invalid("session", "must be the session key's { publicKey, validUntil }")
      }
      const publicKey = yield* decode(Felt, "session.publicKey")(session.publicKey)
      if (BigInt(publicKey) !== BigInt(config.sessionPublicKey)) {
        return yield* invalid("sessionConfig.sessionPublicKey", "sessionPublicKey is not the given session key's public key")
      }
      if (config.validUntil > session.validUntil) {
        return yield* invalid("sessionConfig.validUntil", `validUntil ${config.validUntil} is beyond the session key's own ${session.validUntil}`)
      }
    }
    return yield* revivingChange(
      params,
      { wallet: wallet.publicKey, sessionPublicKey: config.sessionPublicKey },
      "add_or_update_session_key",
      addOrUpdateSessionKeyCalldata(config),
      config.allowedEntrypoints,
      options
    )
  }).pipe(Effect.withSpan("Sessions.register"))

/**
 * Revokes a session key: an owner-signed, sponsored `revoke_session_key`.
 *
 * @since 0.1.0
 * @category lifecycle
 */
export const revoke = (
  params: {
    readonly encryptKey: Pin
    readonly wallet: { readonly publicKey: string; readonly encryptedPrivateKey: string }
    readonly sessionPublicKey: string
  },
  options: Options = {}
): Effect.Effect<TxHash, SubmitError, Crypto | Paymaster | StarknetRpc | Ledger> =>
  Effect.gen(function*() {
    yield* objectParams(params)
    const sessionPublicKey = yield* decode(Felt, "sessionPublicKey")(params.sessionPublicKey)
    yield* Effect.annotateCurrentSpan({ sessionPublicKey })
    return yield* ownerSubmit(params, "revoke_session_key", sessionKeyCalldata(sessionPublicKey), sessionPublicKey, undefined, options)
  }).pipe(Effect.withSpan("Sessions.revoke"))

// ---------------------------------------------------------------------------------------------------------------
// Kill switch: revoke every session of a wallet
// ---------------------------------------------------------------------------------------------------------------

/**
 * What `revokeAll` did: the sessions it revoked (those the chain said were active) and the transactions that did
 * it, one owner-signed multicall per `REVOKES_PER_CALL` sessions.
 *
 * @since 0.1.0
 * @category models
 */
export interface RevokedAll {
  readonly revoked: ReadonlyArray<Felt>
  readonly transactionHashes: ReadonlyArray<TxHash>
}

/** Revokes per multicall: the calldata stays far below a sequencer's limits. */
const REVOKES_PER_CALL = 50

/** The wallet's sessions the ledger knows (and `more`) that the chain says are active now (registered, not expired). */
const activeSessions = (wallet: Address, more: ReadonlyArray<Felt>, retry: Options["retry"]) =>
  Effect.gen(function*() {
    const ledger = yield* Ledger
    const known = new Map<bigint, Felt>()
    for (const key of [...(yield* ledger.sessionsOf(wallet)), ...more]) known.set(BigInt(key), key)
    const read = yield* Effect.forEach([...known.values()], (key) => Effect.map(readStored(wallet, key, retry), (r) => [key, r] as const), {
      concurrency: 10
    })
    return read.filter(([, { data, now }]) => data.validUntil !== 0 && now <= data.validUntil).map(([key]) => key)
  })

const revokeAllParams = (params: unknown) =>
  Effect.gen(function*() {
    yield* objectParams(params)
    const { sessionPublicKeys, wallet } = params as { readonly wallet: unknown; readonly sessionPublicKeys?: unknown }
    const decoded = yield* decode(WalletData, "wallet")(wallet)
    const more = sessionPublicKeys === undefined ? [] : yield* decode(Schema.Array(Felt), "sessionPublicKeys")(sessionPublicKeys)
    return { wallet: decoded, more }
  })

/**
 * The kill switch. From the moment it is called, this library refuses every new payment of the wallet
 * (`WalletHalted`, for every instance sharing the `Ledger`, until `resumeWallet`); then it revokes, owner-signed and
 * sponsored, every session of the wallet that the `Ledger` knows (and those in `sessionPublicKeys`) and that the
 * chain says is active, in one multicall (one per 50 sessions). A payment already sent is not recalled: the chain
 * refuses it once the revocation is in.
 *
 * @since 0.1.0
 * @category lifecycle
 */
export const revokeAll = (
  params: {
    readonly encryptKey: Pin
    readonly wallet: { readonly publicKey: string; readonly encryptedPrivateKey: string }
    /** Sessions to revoke besides those the ledger knows. */
    readonly sessionPublicKeys?: ReadonlyArray<string>
  },
  options: Options = {}
): Effect.Effect<RevokedAll, SubmitError, Crypto | Paymaster | StarknetRpc | Ledger> =>
  Effect.gen(function*() {
    const { more, wallet } = yield* revokeAllParams(params)
    const pin = yield* toPin(params.encryptKey, "encryptKey")
    yield* windowOptions(options)
    const ledger = yield* Ledger
    yield* ledger.halt(wallet.publicKey, yield* Clock.currentTimeMillis)
    yield* Effect.annotateCurrentSpan({ wallet: wallet.publicKey })
    const active = yield* activeSessions(wallet.publicKey, more, options.retry)
    if (active.length === 0) return { revoked: [], transactionHashes: [] }
    const crypto = yield* Crypto
    const transactionHashes = yield* Effect.scoped(Effect.gen(function*() {
      const key = yield* ownerKey(wallet, pin, options.retry)
      const hashes: Array<TxHash> = []
      for (let i = 0; i < active.length; i += REVOKES_PER_CALL) {
        const chunk = active.slice(i, i + REVOKES_PER_CALL)
        const reset = Effect.forEach(chunk, (k) => ledger.resetSession({ wallet: wallet.publicKey, sessionPublicKey: k }), { discard: true })
        yield* Effect.forEach(chunk, (k) => forgetView(wallet.publicKey, k), { discard: true })
        const hash = yield* submitOnce({
          wallet: wallet.publicKey,
          calls: revokeCalls(wallet.publicKey, chunk),
          purpose: "revoke",
          sessionPublicKey: chunk[0]!,
          idempotencyKey: newKey("revoke-all:"),
          signWith: (hash) => crypto.sign(hash, key).pipe(Effect.map(ownerSignature)),
          options
        }, { guard: Effect.void }).pipe(
          Effect.catchTag("PolicyViolation", Effect.die),
          Effect.tapErrorTag("OutcomeUnknown", () => reset)
        )
        yield* reset
        hashes.push(hash)
      }
      return hashes
    }))
    return { revoked: active, transactionHashes }
  }).pipe(Effect.withSpan("Sessions.revokeAll"))

/**
 * Lets the payments of a wallet stopped by `revokeAll` through again (its revoked sessions stay revoked).
 *
 * @since 0.1.0
 * @category lifecycle
 */
export const resumeWallet = (params: { readonly walletAddress: string }): Effect.Effect<void, InvalidInput | LedgerError, Ledger> =>
  Effect.gen(function*() {
    yield* objectParams(params)
    const wallet = yield* decode(Address, "walletAddress")(params.walletAddress)
    yield* (yield* Ledger).resume(wallet)
  })

/**
 * A revoke-all signed by the owner ahead of time, sent later without the PIN (`sendRevokeAll`). Serialisable
 * (`Schema.encode(PresignedRevokeAll)`); it revokes the sessions active when it was signed (not those registered
 * later), and can be sent until `executeBefore` (seconds), once. Keep it as a secret of the operator: whoever holds
 * it can revoke those sessions (and nothing else).
 *
 * @since 0.1.0
 * @category models
 */
export const PresignedRevokeAll = Schema.Struct({
  wallet: Address,
  sessionPublicKeys: Schema.Array(Felt),
  presigned: Presigned
}).annotations({ identifier: "PresignedRevokeAll" })
/** @since 0.1.0 */
export type PresignedRevokeAll = typeof PresignedRevokeAll.Type

/**
 * Signs, with the owner's PIN now, a revoke of every session of the wallet the ledger knows (and those in
 * `sessionPublicKeys`) that the chain says is active, valid for `validFor` (default 7 days). Nothing is sent.
 *
 * @since 0.1.0
 * @category lifecycle
 */
export const presignRevokeAll = (
  params: {
    readonly encryptKey: Pin
    readonly wallet: { readonly publicKey: string; readonly encryptedPrivateKey: string }
    readonly sessionPublicKeys?: ReadonlyArray<string>
  },
  options: Pick<Options, "retry"> & { readonly validFor?: Duration.DurationInput } = {}
): Effect.Effect<PresignedRevokeAll, InvalidInput | InvalidPin | TypedDataMismatch | PaymasterError | RpcError | LedgerError, Crypto | Paymaster | StarknetRpc | Ledger> =>
  Effect.gen(function*() {
    const { more, wallet } = yield* revokeAllParams(params)
    const pin = yield* toPin(params.encryptKey, "encryptKey")
    const validFor = yield* seconds(options.validFor, "options.validFor", Duration.days(7), Duration.minutes(1), Duration.days(366))
    const active = yield* activeSessions(wallet.publicKey, more, options.retry)
    if (active.length === 0) return yield* invalid("wallet", "the wallet has no active session to revoke")
    if (active.length > REVOKES_PER_CALL) {
      return yield* invalid("wallet", `at most ${REVOKES_PER_CALL} sessions in one presigned revoke (the wallet has ${active.length})`)
    }
    const rpc = yield* StarknetRpc
    const block = yield* retrying(rpc.latestBlock, options.retry)
    const presigned = yield* presign(wallet, pin, revokeCalls(wallet.publicKey, active), {
      now: block.timestamp,
      executeBefore: block.timestamp + validFor
    })
    return { wallet: wallet.publicKey, sessionPublicKeys: active, presigned }
  }).pipe(Effect.withSpan("Sessions.presignRevokeAll"))

/**
 * Sends a presigned revoke-all: no PIN. Stops the wallet's payments here first (as `revokeAll`). `Duplicate` when it
 * was sent before (its nonce is used: the sessions were revoked then).
 *
 * @since 0.1.0
 * @category lifecycle
 */
export const sendRevokeAll = (
  presignedRevokeAll: unknown
): Effect.Effect<
  { readonly _tag: "Sent"; readonly txHash: string } | { readonly _tag: "Duplicate" },
  InvalidInput | PaymasterError | LedgerError,
  Paymaster | StarknetRpc | Ledger
> =>
  Effect.gen(function*() {
    const { presigned, sessionPublicKeys, wallet } = yield* decode(PresignedRevokeAll, "presignedRevokeAll")(presignedRevokeAll)
    const ledger = yield* Ledger
    yield* ledger.halt(wallet, yield* Clock.currentTimeMillis)
    const sent = yield* sendPresigned(wallet, presigned)
    yield* Effect.forEach(sessionPublicKeys, (k) => Effect.zipRight(ledger.resetSession({ wallet, sessionPublicKey: k }), forgetView(wallet, k)), {
      discard: true
    })
    return sent
  }).pipe(Effect.withSpan("Sessions.sendRevokeAll"))

// ---------------------------------------------------------------------------------------------------------------
// Execute
// ---------------------------------------------------------------------------------------------------------------

type CallInput = { readonly contractAddress: string; readonly entrypoint: string; readonly calldata?: ReadonlyArray<string | number | bigint> }

/**
 * A session whose key is decrypted once, for a batch of executes (the KDF is paid once).
 *
 * @since 0.1.0
 * @category models
 */
export interface SessionHandle {
  readonly wallet: WalletData
  readonly session: SessionKeyData
  /** One multicall signed by the session key, sponsored. Checked locally first. */
  readonly execute: (
    calls: ReadonlyArray<CallInput>,
    options?: Pick<ExecuteOptions, "idempotencyKey">
  ) => Effect.Effect<TxHash, ExecuteError, Paymaster | StarknetRpc | Ledger>
}

/**
 * The verdict the chain would give these calls now: the same `session_allows` the account computes, then its
 * spending policy, with a precise typed error. Reads the session data, the block time, the allow-list (from the
 * chain when this process does not know it) and the policies of the tokens the calls transfer or approve.
 *
 * @since 0.1.0
 * @category checks
 */
export const preflight = (
  params: { readonly walletAddress: string; readonly sessionPublicKey: string; readonly calls: ReadonlyArray<unknown> },
  options: Pick<Options, "retry"> = {}
): Effect.Effect<void, InvalidInput | RpcError | SessionRefusal | LedgerError, StarknetRpc | Ledger> =>
  Effect.gen(function*() {
    yield* objectParams(params)
    const wallet = yield* decode(Address, "walletAddress")(params.walletAddress)
    const sessionPublicKey = yield* decode(Felt, "sessionPublicKey")(params.sessionPublicKey)
    const calls = yield* decodeCalls(params.calls)
    const { refusal } = yield* verdictNow(wallet, sessionPublicKey, calls, options.retry, {})
    if (refusal !== undefined) return yield* refusal
  })

const Calls = Schema.Array(Call).pipe(Schema.minItems(1, { message: () => "at least one call is required" }))

/** Decodes calls, refusing (as a typed error, before any work) more calldata than any sequencer takes. */
const decodeCalls = (raw: unknown) =>
  Effect.gen(function*() {
    if (Array.isArray(raw)) {
      let felts = 0
      for (const call of raw as ReadonlyArray<{ readonly calldata?: unknown }>) {
        const data = typeof call === "object" && call !== null ? call.calldata : undefined
        if (Array.isArray(data)) felts += data.length
      }
      if (felts > MAX_CALLDATA) return yield* invalid("calls", `at most ${MAX_CALLDATA} calldata felts in all (got ${felts})`)
    }
    return yield* decode(Calls, "calls")(raw)
  })

/**
 * Reads the session data, block time, allow-list and the policies of the tokens the calls move, and runs the
 * account's checks on them (`session_allows`, then the spending policy).
 */
const verdictNow = (
  wallet: Address,
  sessionPublicKey: Felt,
  calls: ReadonlyArray<Call>,
  retry: Options["retry"],
  /** Count the amounts of this session's payloads that may still execute, but for the one under this key. */
  pending?: { readonly except?: string },
  /** May answer from the layer's recent view of the session when it lets the calls through (see `readChainState`). */
  reuse = false
) =>
  Effect.gen(function*() {
    const ledger = yield* Ledger
    const known = yield* ledger.allowedEntrypoints({ wallet, sessionPublicKey })
    const open = pending === undefined
      ? []
      : (yield* ledger.openPayments({ wallet, sessionPublicKey })).filter((p) => p.purpose === "execute" && p.idempotencyKey !== pending.except)
    const judge = (state: Effect.Effect.Success<ReturnType<typeof readChainState>>) => ({
      data: state.data,
      now: state.now,
      block: state.block,
      reused: state.reused,
      refusal: chainVerdict({ walletAddress: wallet, sessionPublicKey, now: state.now, calls, state })
    })
    const first = judge(yield* readChainState(wallet, sessionPublicKey, calls, known, retry, open, { reuse }))
    // A refusal is never given on a reused view: the chain may have moved since in the session's favour.
    if (!first.reused || first.refusal === undefined) return first
    return judge(yield* readChainState(wallet, sessionPublicKey, calls, known, retry, open))
  })

/** Maps a chain refusal to the typed error `session_allows` gives on fresh data, or keeps it. */
const explain = <E>(wallet: Address, sessionPublicKey: Felt, calls: ReadonlyArray<Call>, reason: string, original: E) =>
  Effect.gen(function*() {
    if (!/Session: |SRC9: invalid signature|Spending: |u64_add Overflow|u256_add Overflow/.test(reason)) return original
    const fresh = yield* Effect.either(verdictNow(wallet, sessionPublicKey, calls, undefined))
    if (Either.isLeft(fresh)) return original
    const { data, refusal } = fresh.right
    if (refusal !== undefined) return refusal
    // Everything else holds: with an allow-list the chain knows and this process does not, that is the refusal.
    // The chain does not show its list, so the entrypoint is named only when the calls use just one.
    const used = [...new Map(calls.map((call) => [callSelector(call), call.entrypoint] as const))]
    if (reason.includes("unauthorized selector") && data.allowedEntrypointsLen > 0 && used.length === 1) {
      const [selector, entrypoint] = used[0]!
      return new EntrypointNotAllowed({ selector, ...(BigInt(selector) !== parseNumeric(entrypoint) ? { entrypoint } : {}) })
    }
    return original
  })

const executeWith = (
  wallet: WalletData,
  session: SessionKeyData,
  /** The decrypted session key, or the `Signer` that holds it. */
  key: Redacted.Redacted<Uint8Array> | Signer["Type"],
  rawCalls: unknown,
  options: ExecuteOptions
): Effect.Effect<TxHash, ExecuteError, Crypto | Paymaster | StarknetRpc | Ledger> =>
  Effect.gen(function*() {
    const calls = yield* decodeCalls(rawCalls)
    yield* windowOptions(options)
    const idempotencyKey = options.idempotencyKey === undefined
      ? newKey("execute:")
      : yield* decode(IdempotencyKey, "options.idempotencyKey")(options.idempotencyKey)
    // This library's policies, before anything is read, reserved or signed.
    const charges = yield* Policies.check({ wallet: wallet.publicKey, sessionPublicKey: session.publicKey, calls, idempotencyKey })
    const crypto = yield* Crypto
    const ledger = yield* Ledger
    // A payment under this key that executed while one of its calls failed: nothing is sent again for it.
    const recorded = options.idempotencyKey === undefined ? undefined : yield* ledger.payment(wallet.publicKey, idempotencyKey)
    const failed = recorded === undefined ? undefined : failedCallOf(recorded)
    if (failed !== undefined) return yield* failed
    const ref: SessionRef = { wallet: wallet.publicKey, sessionPublicKey: session.publicKey }
    // The verdict of the last check, for the reservation's refusal.
    const lastVerdict = yield* Ref.make<Effect.Effect.Success<ReturnType<typeof verdictNow>> | undefined>(undefined)
    const simulating = options.skipSimulation !== true
    const guard = Effect.gen(function*() {
      // The account's nonce, for the simulation, is read with the session's state (one batch over HTTP).
      const [verdict, nonce] = yield* Effect.all([
        verdictNow(wallet.publicKey, session.publicKey, calls, options.retry, { except: idempotencyKey }, true),
        simulating ? Effect.option(accountNonce(wallet.publicKey, options.retry)) : Effect.succeedNone
      ], { concurrency: 2 })
      yield* Ref.set(lastVerdict, verdict)
      if (verdict.refusal !== undefined) return yield* Effect.zipRight(Metrics.preflightRefused(verdict.refusal._tag), Effect.fail(verdict.refusal))
      // The session lets the calls through; whether each call does what it asks is the contracts' to say.
      if (simulating) {
        const wouldFail = yield* simulationRefusal(wallet.publicKey, calls, options.retry, Option.getOrUndefined(nonce))
        if (wouldFail !== undefined) return yield* Effect.zipRight(Metrics.preflightRefused(wouldFail._tag), Effect.fail(wouldFail))
      }
    })
    const reserve = Effect.gen(function*() {
      const verdict = (yield* Ref.get(lastVerdict))!
      const reserved = yield* reserveLive(ref, verdict.data, idempotencyKey, options.retry)
      if (reserved.ok) return reserved.reservation
      return yield* Effect.tapError(Effect.fail<SessionRefusal>(preflightCheck({
        walletAddress: wallet.publicKey,
        sessionPublicKey: session.publicKey,
        stored: verdict.data,
        now: verdict.now,
        calls,
        callsUsed: reserved.used
      })!), (refusal) => Metrics.preflightRefused(refusal._tag))
    })
    // The session signature carries the registered valid_until, which the account compares with its own.
    const signWith = (hash: Felt, built: { readonly typedData: OutsideExecutionTypedData }) =>
      Effect.gen(function*() {
        const verdict = (yield* Ref.get(lastVerdict))!
        const sig = Redacted.isRedacted(key)
          ? yield* crypto.sign(hash, key)
          : yield* key.signSession({ wallet: wallet.publicKey, sessionPublicKey: session.publicKey, typedData: built.typedData, calls, hash })
        return sessionSignature(session.publicKey, sig, verdict.data.validUntil)
      })
    return yield* submitOnce(
      {
        wallet: wallet.publicKey,
        calls,
        purpose: "execute",
        sessionPublicKey: session.publicKey,
        idempotencyKey,
        signWith,
        options,
        checkedBlock: Effect.map(Ref.get(lastVerdict), (verdict) => verdict?.block),
        charges
      },
      { guard, reserve }
    ).pipe(
      Effect.catchIf(
        (error): error is PaymasterError => error instanceof PaymasterError && error.revertReason !== undefined,
        (error) =>
          explain(wallet.publicKey, session.publicKey, calls, error.revertReason ?? "", error).pipe(
            Effect.flatMap((mapped) => Effect.fail(mapped))
          )
      ),
      Effect.annotateLogs({ idempotencyKey })
    )
  })

/**
 * Decrypts the session key once into a scope and hands out a `SessionHandle` whose executes share it. The key is
 * wiped when `use` ends.
 *
 * @since 0.1.0
 * @category lifecycle
 */
export const withSession = <A, E, R>(
  params: {
    readonly encryptKey: Pin
    readonly wallet: { readonly publicKey: string; readonly encryptedPrivateKey: string }
    readonly session: { readonly publicKey: string; readonly encryptedPrivateKey: string; readonly validUntil: number }
  },
  use: (handle: SessionHandle) => Effect.Effect<A, E, R>,
  options: Options = {}
): Effect.Effect<A, E | InvalidInput | InvalidPin, R | Crypto> =>
  Effect.scoped(
    Effect.gen(function*() {
      yield* objectParams(params)
      const pin = yield* toPin(params.encryptKey, "encryptKey")
      const wallet = yield* decode(WalletData, "wallet")(params.wallet)
      const session = yield* decode(SessionKeyData, "session")(params.session)
      const crypto = yield* Crypto
      // With a Signer, the key stays where it is held; else cached: the guide's per-call executes pay the key
      // derivation once per session, not once per call.
      const signer = yield* Effect.serviceOption(Signer)
      const privateKey = Option.isSome(signer)
        ? signer.value
        : yield* crypto.decryptPrivateKey(session.encryptedPrivateKey, pin, session.publicKey, { cache: true })
      const handle: SessionHandle = {
        wallet,
        session,
        execute: (calls, more = {}) =>
          executeWith(wallet, session, privateKey, calls, { ...options, ...more }).pipe(Effect.provideService(Crypto, crypto))
      }
      return yield* use(handle)
    })
  )

/**
 * Executes one multicall signed by the session key (4-felt signature), sponsored by the paymaster. Fails locally
 * with `NotRegistered`, `Expired`, `MaxCallsExceeded`, `ForbiddenCall`, `EntrypointNotAllowed` or
 * `SpendingLimitExceeded` when the chain would refuse; a refusal by the chain anyway maps to the same errors. The signed payload is recorded in the
 * `Ledger` under `options.idempotencyKey` (a fresh key without one) before it is sent; an execute with the same key
 * sends that same payload again while it can execute, so the payment moves at most once. An outcome not known when
 * the retry budget ends is `OutcomeUnknown` (see `resolve`), never a transient error.
 *
 * @since 0.1.0
 * @category lifecycle
 */
export const execute = (
  params: {
    readonly encryptKey: Pin
    readonly wallet: { readonly publicKey: string; readonly encryptedPrivateKey: string }
    readonly session: { readonly publicKey: string; readonly encryptedPrivateKey: string; readonly validUntil: number }
    readonly calls: ReadonlyArray<CallInput>
  },
  options: ExecuteOptions = {}
): Effect.Effect<TxHash, ExecuteError, Crypto | Paymaster | StarknetRpc | Ledger> =>
  withSession(params, (handle) =>
    Effect.zipRight(
      Effect.annotateCurrentSpan({ wallet: handle.wallet.publicKey, sessionPublicKey: handle.session.publicKey }),
      handle.execute(params.calls, options)
    ), options).pipe(Metrics.countExecute, Effect.withSpan("Sessions.execute"))

// ---------------------------------------------------------------------------------------------------------------
// ... and wait
// ---------------------------------------------------------------------------------------------------------------

/**
 * Every failure of waiting for a transaction.
 *
 * @since 0.1.0
 * @category errors
 */
export type WaitError = Reverted | Timeout | TransactionNotFound | Dropped | RpcError | InvalidInput

/**
 * `register`, then wait for the transaction to succeed.
 *
 * @since 0.1.0
 * @category lifecycle
 */
export const registerAndWait = (
  params: Parameters<typeof register>[0],
  options: RegisterOptions & { readonly wait?: Transactions.WaitOptions } = {}
): Effect.Effect<Receipt, RegisterError | WaitError, Crypto | Paymaster | StarknetRpc | Ledger> =>
  Effect.flatMap(register(params, options), (hash) => Transactions.wait(hash, options.wait))

/**
 * `revoke`, then wait for the transaction to succeed.
 *
 * @since 0.1.0
 * @category lifecycle
 */
export const revokeAndWait = (
  params: Parameters<typeof revoke>[0],
  options: Options & { readonly wait?: Transactions.WaitOptions } = {}
): Effect.Effect<Receipt, SubmitError | WaitError, Crypto | Paymaster | StarknetRpc | Ledger> =>
  Effect.flatMap(revoke(params, options), (hash) => Transactions.wait(hash, options.wait))

/**
 * `execute`, then wait. A revert for a session reason (the chain moved between check and inclusion, e.g. two
 * executes racing for a last call) fails with the same typed error the preflight gives, not a bare `Reverted`.
 *
 * @since 0.1.0
 * @category lifecycle
 */
export const executeAndWait = (
  params: Parameters<typeof execute>[0],
  options: ExecuteOptions & { readonly wait?: Transactions.WaitOptions } = {}
): Effect.Effect<Receipt, ExecuteError | WaitError, Crypto | Paymaster | StarknetRpc | Ledger> =>
  Effect.flatMap(execute(params, options), (txHash) => wait(txHash, options.wait))

/** How the ledger records a payment whose transaction succeeded while one of its calls failed (executed, no effect). */
const FAILED_CALL = /^call (-?\d+) failed: ([\s\S]*)$/

/** The `CallFailed` a payment's record holds: executed, with a call that moved nothing. */
const failedCallOf = (payment: Payment): CallFailed | undefined => {
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
const checkCalls = (receipt: Receipt, options: Transactions.WaitOptions) =>
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

/**
 * `Transactions.wait`, for any transaction; when it is an execute this process sent and it reverted for a session
 * reason (the chain moved between the check and inclusion), fails with the typed error the preflight gives
 * (`MaxCallsExceeded`, `Expired`, …) rather than a bare `Reverted`. A reverted execute's reserved call is given back.
 *
 * @since 0.1.0
 * @category waiting
 */
export const wait = (
  txHash: string,
  options: Transactions.WaitOptions = {}
): Effect.Effect<Receipt, WaitError | SessionRefusal | CallFailed, StarknetRpc | Ledger> =>
  Transactions.wait(txHash, options).pipe(
    Effect.tap((receipt) => checkCalls(receipt, options)),
    Effect.catchTag("Reverted", (reverted) =>
      Effect.gen(function*() {
        const payment = yield* (yield* Ledger).paymentByHash(reverted.txHash as TxHash).pipe(Effect.orElseSucceed(() => undefined))
        if (payment === undefined) return yield* reverted
        // A second copy of a payload refused for its nonce: a relayer that sends a copy while the first is pending
        // gets it reverted once the first executes. The payment is then the first copy's, which the chain names.
        if (/duplicated nonce/i.test(reverted.revertReason)) {
          const outcome = yield* resolvePayment(payment, Schedule.stop, undefined).pipe(Effect.orElseSucceed(() => undefined))
          if (outcome?._tag === "Executed" && BigInt(outcome.transactionHash) !== BigInt(reverted.txHash)) {
            return yield* Transactions.wait(outcome.transactionHash, options)
          }
          return yield* reverted
        }
        if (payment.purpose !== "execute") return yield* reverted
        return yield* Effect.fail(yield* explain(payment.wallet, payment.sessionPublicKey, payment.calls, reverted.revertReason, reverted))
      }))
  )

// ---------------------------------------------------------------------------------------------------------------
// Spending policies: per-token limits on what a session may transfer or approve
// ---------------------------------------------------------------------------------------------------------------

const amountInput = (name: string) =>
  Schema.transformOrFail(Schema.Union(Schema.BigIntFromSelf, Schema.String, Schema.Number), Schema.BigIntFromSelf, {
    strict: true,
    decode: (input, _, ast) => {
      const value = typeof input === "bigint"
        ? input
        : typeof input === "number"
        ? (Number.isSafeInteger(input) ? BigInt(input) : undefined)
        : parseNumeric(input)
      if (value === undefined) return ParseResult.fail(new ParseResult.Type(ast, input, `${name} must be an integer (a bigint, 0x-hex or decimal)`))
      if (value < 0n || value > U256_MAX) return ParseResult.fail(new ParseResult.Type(ast, input, `${name} must fit in u256`))
      return ParseResult.succeed(value)
    },
    encode: (value) => ParseResult.succeed(value)
  })

const SpendingPolicyConfigSchema = Schema.Struct({
  sessionPublicKey: Felt,
  token: Address,
  maxPerCall: amountInput("maxPerCall"),
  maxPerWindow: amountInput("maxPerWindow"),
  windowSeconds: Schema.transformOrFail(Schema.Union(Schema.Number, Schema.BigIntFromSelf), Schema.BigIntFromSelf, {
    strict: true,
    decode: (input, _, ast) => {
      if (typeof input === "number" && !Number.isSafeInteger(input)) {
        return ParseResult.fail(new ParseResult.Type(ast, input, "windowSeconds must be an integer"))
      }
      const value = BigInt(input)
      return value <= 0n || value > U64_MAX
        ? ParseResult.fail(new ParseResult.Type(ast, input, "windowSeconds must be a positive integer that fits in u64"))
        : ParseResult.succeed(value)
    },
    encode: (value) => ParseResult.succeed(value)
  })
})

/**
 * A spending policy to set, as the Chipi SDK's `SpendingPolicyConfig`: at most `maxPerCall` per transfer or
 * approval of `token`, and `maxPerWindow` in total per `windowSeconds` (u256 amounts in the token's raw units).
 *
 * @since 0.1.0
 * @category models
 */
export interface SpendingPolicyConfig {
  readonly sessionPublicKey: string
  readonly token: string
  readonly maxPerCall: bigint
  readonly maxPerWindow: bigint
  /** Seconds, a u64 on chain: a number as in the SDK, or a bigint for the whole range. */
  readonly windowSeconds: number | bigint
}

/**
 * A session's spending policy for a token, as the Chipi SDK's `SpendingPolicyData` (all zero: no policy, no
 * limit), with what it leaves now derived as the account derives it: `remainingInWindow` (`null` without a policy)
 * and `windowResetsAt`, the block time from which the full `maxPerWindow` is available again (`null` without a
 * policy, when the window is already over, or when the window's end overflows u64, in which case
 * `remainingInWindow` is 0).
 *
 * @since 0.1.0
 * @category models
 */
export interface SpendingPolicyData {
  readonly maxPerCall: bigint
  readonly maxPerWindow: bigint
  readonly windowSeconds: number
  readonly spentInWindow: bigint
  readonly windowStart: number
  readonly remainingInWindow: bigint | null
  readonly windowResetsAt: number | null
}

/** A chain refusal for a spending limit (or the overflows the account raises while counting). */
const SPENDING_REFUSAL = /Spending: |u64_add Overflow|u256_add Overflow/

/**
 * A policy change of a session and token, behind the same fence and guard as a re-registration when it can revive
 * payloads: a token that has a policy gets a fresh window (spent 0) from `set_spending_policy`, and none at all from
 * `remove_spending_policy`, so a payload the chain refused for that token's limit could then run. A first policy
 * (the session had no limit on the token) revives nothing, nor does any change for payloads refused for other
 * reasons.
 */
const policyChange = (
  params: { readonly encryptKey: Pin; readonly wallet: unknown },
  wallet: Address,
  entrypoint: "set_spending_policy" | "remove_spending_policy",
  calldata: ReadonlyArray<Felt>,
  sessionPublicKey: Felt,
  token: Address,
  options: RegisterOptions
) =>
  Effect.gen(function*() {
    const current = yield* readPolicy(wallet, sessionPublicKey, token, options.retry)
    if (current.maxPerWindow === 0n) return yield* ownerSubmit(params, entrypoint, calldata, sessionPublicKey, undefined, options)
    const revivable = (p: Payment) =>
      (p.status === "refused" || p.status === "reverted") && SPENDING_REFUSAL.test(p.reason ?? "") &&
      p.calls.some((call) => BigInt(call.contractAddress) === BigInt(token) && TRACKED_SELECTORS.has(BigInt(callSelector(call))))
    return yield* revivingChange(params, { wallet, sessionPublicKey }, entrypoint, calldata, undefined, options, revivable)
  })

/** A refused policy input carries the SDK's code for it. */
const invalidAt = (path: string, rule: string) => new InvalidInput({ path, rule, issues: [{ path, rule }], code: "INVALID_SPENDING_POLICY" })
const asPolicyInput = (error: InvalidInput) => new InvalidInput({ ...error, code: "INVALID_SPENDING_POLICY" })

/**
 * The calldata of `set_spending_policy` for a policy, checked as `setSpendingPolicy` checks it (nothing is signed
 * here): amounts fit u256, `maxPerWindow > 0`, `maxPerCall <= maxPerWindow`, and the window's end fits u64 when the
 * call is included at `latestInclusion` (block time, seconds; read only once the amounts are known to be good). For
 * an owner-signed multicall that sets a policy along with other calls of the account on itself, such as the
 * registration of the session it limits.
 *
 * @since 0.1.0
 * @category spending
 */
export const spendingPolicyCalldata = <E, R>(
  spendingPolicyConfig: SpendingPolicyConfig,
  latestInclusion: Effect.Effect<number, E, R>
): Effect.Effect<
  {
    readonly sessionPublicKey: Felt
    readonly token: Address
    readonly maxPerCall: bigint
    readonly maxPerWindow: bigint
    readonly windowSeconds: bigint
    readonly calldata: ReadonlyArray<Felt>
  },
  InvalidInput | E,
  R
> =>
  Effect.gen(function*() {
    const config = yield* decode(SpendingPolicyConfigSchema, "spendingPolicyConfig")(spendingPolicyConfig).pipe(
      Effect.mapError(asPolicyInput)
    )
    yield* Effect.annotateCurrentSpan({ sessionPublicKey: config.sessionPublicKey, token: config.token })
    if (config.maxPerWindow === 0n) {
      return yield* invalidAt(
        "spendingPolicyConfig.maxPerWindow",
        "maxPerWindow must be above 0 (the account treats 0 as no policy; removeSpendingPolicy removes one)"
      )
    }
    if (config.maxPerCall > config.maxPerWindow) {
      return yield* invalidAt(
        "spendingPolicyConfig.maxPerCall",
        `maxPerCall (${config.maxPerCall}) cannot exceed maxPerWindow (${config.maxPerWindow})`
      )
    }
    if (windowOverflowsAt(config.windowSeconds, BigInt(yield* latestInclusion))) {
      return yield* invalidAt(
        "spendingPolicyConfig.windowSeconds",
        `windowSeconds ${config.windowSeconds} makes the window's end overflow u64; the account would refuse every call it limits`
      )
    }
    return {
      ...config,
      calldata: [
        config.sessionPublicKey,
        config.token,
        ...splitU256(config.maxPerCall),
        ...splitU256(config.maxPerWindow),
        toHex(config.windowSeconds) as Felt
      ]
    }
  })

/**
 * Sets a session's spending policy for a token: an owner-signed, sponsored `set_spending_policy` (it starts a fresh
 * window, nothing spent, at inclusion). The account then refuses any execute of the session whose `transfer`,
 * `approve`, `increase_allowance` or `increaseAllowance` calls on that token exceed it, and `execute` refuses such
 * calls before signing (`SpendingLimitExceeded`). Checked first, nothing signed otherwise: amounts fit u256,
 * `maxPerWindow > 0` (0 is no policy: use `removeSpendingPolicy`), `maxPerCall <= maxPerWindow`, `windowSeconds` a
 * positive integer whose window end fits u64 at the latest time the transaction can be included. On a token that
 * already has a policy, payloads the chain refused for its limit that are still inside their windows would run
 * under the new one: it fails with `LivePayloads` while the `Ledger` holds any (or waits, `waitForLivePayloads`).
 *
 * @since 0.1.0
 * @category spending
 */
export const setSpendingPolicy = (
  params: {
    readonly encryptKey: Pin
    readonly wallet: { readonly publicKey: string; readonly encryptedPrivateKey: string }
    readonly spendingPolicyConfig: SpendingPolicyConfig
  },
  options: RegisterOptions = {}
): Effect.Effect<TxHash, RegisterError, Crypto | Paymaster | StarknetRpc | Ledger> =>
  Effect.gen(function*() {
    yield* objectParams(params)
    const rpc = yield* StarknetRpc
    const policy = yield* spendingPolicyCalldata(
      params.spendingPolicyConfig,
      Effect.gen(function*() {
        const { validity, tolerance } = yield* windowOptions(options)
        const block = yield* retrying(rpc.latestBlock, options.retry)
        // The window starts at inclusion, at the latest when the signed outside execution stops being valid.
        return block.timestamp + validity + tolerance
      })
    )
    const wallet = yield* decode(WalletData, "wallet")(params.wallet)
    return yield* policyChange(params, wallet.publicKey, "set_spending_policy", policy.calldata, policy.sessionPublicKey, policy.token, options)
  }).pipe(Effect.withSpan("Sessions.setSpendingPolicy"))

/**
 * Removes a session's spending policy for a token: an owner-signed, sponsored `remove_spending_policy`. The session
 * then has no limit on that token's amounts. Held back by live payloads refused for that limit, as `setSpendingPolicy`.
 *
 * @since 0.1.0
 * @category spending
 */
export const removeSpendingPolicy = (
  params: {
    readonly encryptKey: Pin
    readonly wallet: { readonly publicKey: string; readonly encryptedPrivateKey: string }
    readonly sessionPublicKey: string
    readonly token: string
  },
  options: RegisterOptions = {}
): Effect.Effect<TxHash, RegisterError, Crypto | Paymaster | StarknetRpc | Ledger> =>
  Effect.gen(function*() {
    yield* objectParams(params)
    const sessionPublicKey = yield* decode(Felt, "sessionPublicKey")(params.sessionPublicKey).pipe(Effect.mapError(asPolicyInput))
    const token = yield* decode(Address, "token")(params.token).pipe(Effect.mapError(asPolicyInput))
    yield* Effect.annotateCurrentSpan({ sessionPublicKey, token })
    const wallet = yield* decode(WalletData, "wallet")(params.wallet)
    return yield* policyChange(params, wallet.publicKey, "remove_spending_policy", [sessionPublicKey, token], sessionPublicKey, token, options)
  }).pipe(Effect.withSpan("Sessions.removeSpendingPolicy"))

/**
 * Reads a session's spending policy for a token (`get_spending_policy`), with what it leaves at the latest block's
 * time. All zero means no policy (also on an account without the extension).
 *
 * @since 0.1.0
 * @category spending
 */
export const getSpendingPolicy = (
  params: { readonly walletAddress: string; readonly sessionPublicKey: string; readonly token: string },
  options: Pick<Options, "retry"> = {}
): Effect.Effect<SpendingPolicyData, InvalidInput | RpcError, StarknetRpc> =>
  Effect.gen(function*() {
    yield* objectParams(params)
    const walletAddress = yield* decode(Address, "walletAddress")(params.walletAddress)
    const sessionPublicKey = yield* decode(Felt, "sessionPublicKey")(params.sessionPublicKey)
    const token = yield* decode(Address, "token")(params.token)
    const rpc = yield* StarknetRpc
    const [policy, block] = yield* Effect.all([
      readPolicy(walletAddress, sessionPublicKey, token, options.retry),
      retrying(rpc.latestBlock, options.retry)
    ], { concurrency: "unbounded" })
    const { remainingInWindow, windowResetsAt } = allowance(policy, BigInt(block.timestamp))
    return {
      maxPerCall: policy.maxPerCall,
      maxPerWindow: policy.maxPerWindow,
      windowSeconds: Number(policy.windowSeconds),
      spentInWindow: policy.spentInWindow,
      windowStart: Number(policy.windowStart),
      remainingInWindow,
      windowResetsAt
    }
  })

/**
 * `setSpendingPolicy`, then wait for the transaction to succeed.
 *
 * @since 0.1.0
 * @category spending
 */
export const setSpendingPolicyAndWait = (
  params: Parameters<typeof setSpendingPolicy>[0],
  options: RegisterOptions & { readonly wait?: Transactions.WaitOptions } = {}
): Effect.Effect<Receipt, RegisterError | WaitError, Crypto | Paymaster | StarknetRpc | Ledger> =>
  Effect.flatMap(setSpendingPolicy(params, options), (hash) => Transactions.wait(hash, options.wait))

/**
 * `removeSpendingPolicy`, then wait for the transaction to succeed.
 *
 * @since 0.1.0
 * @category spending
 */
export const removeSpendingPolicyAndWait = (
  params: Parameters<typeof removeSpendingPolicy>[0],
  options: RegisterOptions & { readonly wait?: Transactions.WaitOptions } = {}
): Effect.Effect<Receipt, RegisterError | WaitError, Crypto | Paymaster | StarknetRpc | Ledger> =>
  Effect.flatMap(removeSpendingPolicy(params, options), (hash) => Transactions.wait(hash, options.wait))
