/**
 * The session-key lifecycle as Effects: create a key locally, register it on the wallet (owner-signed,
 * sponsored), execute calls signed by the session key, revoke it. Every operation checks locally what the chain
 * would refuse before anything is signed or sent, and every signed payload is recorded in the `Ledger` before it
 * is sent, so that a payment moves at most once: the `Payments` module and its machinery (see
 * docs/exactly-once.md). The kill switch and spending policies are re-exported here.
 *
 * @since 0.1.0
 */
import { Clock, type Duration, Effect, Option, type Redacted, Schedule, Schema } from "effect"
import { Crypto } from "./Crypto.js"
import type {
  CallFailed,
  CallWouldFail,
  Dropped,
  InvalidInput,
  InvalidPin,
  LedgerError,
  LivePayloads,
  OutcomeUnknown,
  PaymasterError,
  PolicyViolation,
  Reverted,
  RpcError,
  SessionRefusal,
  SignerError,
  Timeout,
  TransactionNotFound,
  TypedDataMismatch,
  WalletHalted
} from "./Errors.js"
import { decodeCalls, executeWith, explain, verdictNow } from "./internal/sessions/execute.js"
import { invalid, objectParams, readStored, retrying, toPin, windowOptions } from "./internal/sessions/lifecycle.js"
import { checkCalls } from "./internal/payments/calls.js"
import { ownerSubmit, revivingChange } from "./internal/payments/owner.js"
import { resolvePayment } from "./internal/payments/resolve.js"
import { readAllowedEntrypoints } from "./internal/account/preflight.js"
import { Ledger } from "./Ledger.js"
import * as Metrics from "./Metrics.js"
import { addOrUpdateSessionKeyCalldata, sessionKeyCalldata } from "./OutsideExecution.js"
import type { Paymaster } from "./Paymaster.js"
import * as Policies from "./Policies.js"
import { Address, decode, Felt, SessionConfig, type SessionData, SessionKeyData, type TxHash, WalletData } from "./Schemas.js"
import { Signer } from "./Signer.js"
import { type Receipt, StarknetRpc } from "./StarknetRpc.js"
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
export {
  /**
   * The outcome of a payment, as the chain decides it (see the `Payments` module).
   *
   * @since 0.1.0
   * @category models
   */
  type Outcome,
  /**
   * Waits until the chain decides the payment recorded under an idempotency key (see the `Payments` module).
   *
   * @since 0.1.0
   * @category lifecycle
   */
  resolve
} from "./Payments.js"

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
// Register and revoke: owner-signed, sponsored
// ---------------------------------------------------------------------------------------------------------------

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

export {
  presignRevokeAll,
  PresignedRevokeAll,
  resumeWallet,
  revokeAll,
  sendRevokeAll
} from "./internal/sessions/killswitch.js"

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

export {
  getSpendingPolicy,
  removeSpendingPolicy,
  removeSpendingPolicyAndWait,
  setSpendingPolicy,
  setSpendingPolicyAndWait,
  spendingPolicyCalldata
} from "./internal/sessions/spending-policy.js"
