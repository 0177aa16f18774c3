/**
 * The session-key lifecycle as Effects: create a key locally, register it on the wallet (owner-signed,
 * sponsored), execute calls signed by the session key, revoke it. Every operation checks locally what the chain
 * would refuse before anything is signed or sent.
 *
 * @since 0.1.0
 */
import { Clock, Context, Duration, Effect, Either, Layer, ParseResult, Redacted, Ref, Schema, type Schedule } from "effect"
import { SELECTORS } from "./Constants.js"
import { Crypto } from "./Crypto.js"
import {
  EntrypointNotAllowed,
  InvalidInput,
  type InvalidPin,
  PaymasterError,
  SubmissionAnswerLost,
  type Reverted,
  type RpcError,
  type SessionRefusal,
  type Timeout,
  type TransactionNotFound,
  type TypedDataMismatch
} from "./Errors.js"
import { checkTypedData } from "./internal/check.js"
import { parseNumeric, toHex, U64_MAX } from "./internal/felt.js"
import { Ledger } from "./internal/ledger.js"
import { allowance, splitU256, U256_MAX, windowOverflowsAt } from "./internal/spending.js"
import {
  preflight as preflightCheck,
  readAllowedEntrypoints,
  readChainState,
  readPolicy,
  type StoredSession,
  verdict
} from "./internal/preflight.js"
import {
  addOrUpdateSessionKeyCalldata,
  messageHash,
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
import { type Receipt, StarknetRpc } from "./StarknetRpc.js"
import * as Transactions from "./Transactions.js"

// ---------------------------------------------------------------------------------------------------------------
// The ledger: what this process has reserved, so concurrent executes never exceed a session's calls
// ---------------------------------------------------------------------------------------------------------------

export {
  /**
   * Process-local bookkeeping of sessions: calls reserved by in-flight executes and allow-lists registered from
   * here.
   *
   * @since 0.1.0
   * @category tags
   */
  Ledger,
  /**
   * Provides the `Ledger`. One per process (or per set of sessions that share a wallet).
   *
   * @since 0.1.0
   * @category layers
   */
  layer
} from "./internal/ledger.js"

const ledgerKey = (wallet: string, sessionPublicKey: string) => `${BigInt(wallet)}:${BigInt(sessionPublicKey)}`

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

const toPin = (pin: Pin, path: string): Effect.Effect<Redacted.Redacted<string>, InvalidInput> => {
  const value = Redacted.isRedacted(pin) ? Redacted.value(pin) : pin
  return typeof value === "string" && value.length > 0
    ? Effect.succeed(Redacted.isRedacted(pin) ? pin : Redacted.make(pin))
    : Effect.fail(new InvalidInput({ path, rule: "a non-empty PIN is required", issues: [{ path, rule: "a non-empty PIN is required" }] }))
}

/**
 * Options shared by the lifecycle operations.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Retries of transient RPC and paymaster faults. */
  readonly retry?: Schedule.Schedule<unknown, unknown>
  /** How long the signed outside execution stays valid (default 10 minutes). */
  readonly validity?: Duration.DurationInput
  /** Pin the relayer: typed data naming another specific caller is refused. */
  readonly relayer?: string
}

/**
 * Every failure of a sponsored submission.
 *
 * @since 0.1.0
 * @category errors
 */
export type SubmitError = InvalidInput | InvalidPin | TypedDataMismatch | PaymasterError | SubmissionAnswerLost | RpcError

/**
 * Every failure of a session execute.
 *
 * @since 0.1.0
 * @category errors
 */
export type ExecuteError = SubmitError | SessionRefusal

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
}): Effect.Effect<SessionKeyData, InvalidInput, Crypto> =>
  Effect.scoped(
    Effect.gen(function*() {
      const pin = yield* toPin(params.encryptKey, "encryptKey")
      const { durationSeconds } = yield* decode(CreateParams)(params)
      const crypto = yield* Crypto
      const now = yield* Clock.currentTimeMillis
      const pair = yield* crypto.generateKeyPair
      const encryptedPrivateKey = yield* crypto.encryptPrivateKey(pair.privateKey, pin)
      const validUntil = Math.floor(now / 1000) + durationSeconds
      // With a ledger at hand, registering this key later is checked against its own validUntil.
      const ledger = yield* Effect.serviceOption(Ledger)
      if (ledger._tag === "Some") yield* ledger.value.rememberKey(pair.publicKey, validUntil)
      return { publicKey: pair.publicKey, encryptedPrivateKey, validUntil }
    })
  )

// ---------------------------------------------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------------------------------------------

const readStored = (wallet: Address, sessionPublicKey: Felt, retry: Schedule.Schedule<unknown, unknown> | undefined) =>
  Effect.gen(function*() {
    const rpc = yield* StarknetRpc
    const [felts, block] = yield* Effect.all([
      Transactions.retryTransient(
        rpc.call({ contractAddress: wallet, entrypoint: SELECTORS.get_session_data, calldata: sessionKeyCalldata(sessionPublicKey) }),
        retry
      ),
      Transactions.retryTransient(rpc.latestBlock, retry)
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
    const walletAddress = yield* decode(Address, "walletAddress")(params.walletAddress)
    const sessionPublicKey = yield* decode(Felt, "sessionPublicKey")(params.sessionPublicKey)
    const { data } = yield* readStored(walletAddress, sessionPublicKey, options.retry)
    const allowedEntrypoints = yield* readAllowedEntrypoints(walletAddress, sessionPublicKey, data.allowedEntrypointsLen, options.retry)
    return allowedEntrypoints !== undefined ? { ...data, allowedEntrypoints } : data
  })

// ---------------------------------------------------------------------------------------------------------------
// Sponsored submission: build, check, sign, send
// ---------------------------------------------------------------------------------------------------------------

const DEFAULT_VALIDITY = Duration.minutes(10)

/**
 * Builds the outside execution through the paymaster, checks the typed data it returns, signs its hash with
 * `signWith` and submits it. Nothing is signed unless the typed data says exactly what was asked.
 */
const submit = <E, R>(
  wallet: Address,
  calls: ReadonlyArray<Call>,
  now: number,
  signWith: (hash: Felt) => Effect.Effect<ReadonlyArray<Felt>, E, R>,
  options: Options
): Effect.Effect<TxHash, E | TypedDataMismatch | PaymasterError | SubmissionAnswerLost | RpcError, R | Paymaster | StarknetRpc> =>
  Effect.gen(function*() {
    const paymaster = yield* Paymaster
    const rpc = yield* StarknetRpc
    const chainId = yield* Transactions.retryTransient(rpc.chainId, options.retry)
    const validity = Math.ceil(Duration.toSeconds(Duration.decode(options.validity ?? DEFAULT_VALIDITY)))
    const timeBounds = { executeAfter: now - 1, executeBefore: now + validity }
    const built = yield* Transactions.retryTransient(
      paymaster.buildTransaction({ userAddress: wallet, calls, timeBounds }),
      options.retry
    )
    const outsideExecution = yield* checkTypedData(built.typedData, {
      chainId,
      calls: toOutsideCalls(calls),
      ...timeBounds,
      now,
      relayer: options.relayer,
      boundsAsked: paymaster.takesTimeBounds !== false
    })
    const signature = yield* signWith(messageHash(chainId, wallet, outsideExecution))
    // The outside-execution nonce makes a repeated submission of the same signed payload refused, never doubled.
    // A retry refused for that nonce means an earlier attempt went through and only its answer was lost.
    let attempts = 0
    const { transactionHash } = yield* Transactions.retryTransient(
      Effect.suspend(() => {
        attempts++
        return paymaster.executeTransaction({ userAddress: wallet, typedData: built.typedData, signature })
      }),
      options.retry
    ).pipe(
      Effect.catchIf(
        (error) => attempts > 1 && error.revertReason === "SRC9: duplicated nonce",
        () => Effect.fail(new SubmissionAnswerLost({ wallet, nonce: outsideExecution.nonce, attempts }))
      )
    )
    return transactionHash
  })

/** Decrypts the owner key of a wallet into the scope, checked against the account's public key. */
const ownerKey = (wallet: WalletData, pin: Redacted.Redacted<string>, retry: Options["retry"]) =>
  Effect.gen(function*() {
    const rpc = yield* StarknetRpc
    const crypto = yield* Crypto
    const [publicKey] = yield* Transactions.retryTransient(
      rpc.call({ contractAddress: wallet.publicKey, entrypoint: "get_public_key", calldata: [] }),
      retry
    )
    if (publicKey === undefined) {
      return yield* new InvalidInput({
        path: "wallet.publicKey",
        rule: "the account did not answer get_public_key",
        issues: [{ path: "wallet.publicKey", rule: "the account did not answer get_public_key" }]
      })
    }
    return yield* crypto.decryptPrivateKey(wallet.encryptedPrivateKey, pin, publicKey)
  })

/**
 * An owner-signed, sponsored call of the account on itself; once a (re-)registration or revocation is sent, the
 * ledger entry of the session it concerns starts afresh (the chain resets its count too). A policy change leaves
 * the session's count as it is, on chain and here.
 */
const ownerSubmit = (
  params: { readonly encryptKey: Pin; readonly wallet: unknown },
  entrypoint: "add_or_update_session_key" | "revoke_session_key" | "set_spending_policy" | "remove_spending_policy",
  calldata: ReadonlyArray<Felt>,
  sessionPublicKey: Felt,
  allowedEntrypoints: ReadonlyArray<Felt> | undefined,
  options: Options
) =>
  Effect.scoped(
    Effect.gen(function*() {
      const pin = yield* toPin(params.encryptKey, "encryptKey")
      const wallet = yield* decode(WalletData, "wallet")(params.wallet)
      const rpc = yield* StarknetRpc
      const crypto = yield* Crypto
      const ledger = yield* Ledger
      const block = yield* Transactions.retryTransient(rpc.latestBlock, options.retry)
      const key = yield* ownerKey(wallet, pin, options.retry)
      // Once sent, the chain's entry starts afresh, and so does this process's.
      const reset = entrypoint === "add_or_update_session_key" || entrypoint === "revoke_session_key"
        ? ledger.reset(ledgerKey(wallet.publicKey, sessionPublicKey), allowedEntrypoints)
        : Effect.void
      const txHash = yield* submit(
        wallet.publicKey,
        [{ contractAddress: wallet.publicKey, entrypoint, calldata }],
        block.timestamp,
        (hash) => crypto.sign(hash, key).pipe(Effect.map(ownerSignature)),
        options
      ).pipe(Effect.tapErrorTag("SubmissionAnswerLost", () => reset)) // sent, though its answer was lost
      yield* reset
      return txHash
    })
  )

// ---------------------------------------------------------------------------------------------------------------
// Register and revoke
// ---------------------------------------------------------------------------------------------------------------

/**
 * Registers a session key on the wallet: an owner-signed, sponsored `add_or_update_session_key`. The config is
 * checked first (valid_until in the future at block time and not beyond the session key's own `validUntil` when the
 * key is given, maxCalls a u32 >= 1, selectors valid); nothing is signed otherwise.
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
  options: Options = {}
): Effect.Effect<TxHash, SubmitError, Crypto | Paymaster | StarknetRpc | Ledger> =>
  Effect.gen(function*() {
    const config = yield* decode(SessionConfig, "sessionConfig")(params.sessionConfig)
    const rpc = yield* StarknetRpc
    const block = yield* Transactions.retryTransient(rpc.latestBlock, options.retry)
    const invalid = (rule: string) =>
      new InvalidInput({ path: "sessionConfig.validUntil", rule, issues: [{ path: "sessionConfig.validUntil", rule }] })
    if (config.validUntil <= block.timestamp) {
      return yield* invalid(`validUntil ${config.validUntil} is not in the future (block time ${block.timestamp})`)
    }
    const ledger = yield* Ledger
    const remembered = yield* ledger.keyValidUntil(config.sessionPublicKey)
    const session = params.session ?? (remembered !== undefined ? { publicKey: config.sessionPublicKey, validUntil: remembered } : undefined)
    if (session !== undefined) {
      if (BigInt(session.publicKey) !== BigInt(config.sessionPublicKey)) {
        const rule = "sessionPublicKey is not the given session key's public key"
        return yield* new InvalidInput({ path: "sessionConfig.sessionPublicKey", rule, issues: [{ path: "sessionConfig.sessionPublicKey", rule }] })
      }
      if (config.validUntil > session.validUntil) {
        return yield* invalid(`validUntil ${config.validUntil} is beyond the session key's own ${session.validUntil}`)
      }
    }
    return yield* ownerSubmit(
      params,
      "add_or_update_session_key",
      addOrUpdateSessionKeyCalldata(config),
      config.sessionPublicKey,
      config.allowedEntrypoints,
      options
    )
  }).pipe(Effect.withSpan("Sessions.register", { attributes: { sessionPublicKey: params.sessionConfig.sessionPublicKey } }))

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
    const sessionPublicKey = yield* decode(Felt, "sessionPublicKey")(params.sessionPublicKey)
    return yield* ownerSubmit(params, "revoke_session_key", sessionKeyCalldata(sessionPublicKey), sessionPublicKey, undefined, options)
  }).pipe(Effect.withSpan("Sessions.revoke", { attributes: { sessionPublicKey: params.sessionPublicKey } }))

// ---------------------------------------------------------------------------------------------------------------
// Execute
// ---------------------------------------------------------------------------------------------------------------

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
    calls: ReadonlyArray<{ readonly contractAddress: string; readonly entrypoint: string; readonly calldata?: ReadonlyArray<string | number | bigint> }>
  ) => Effect.Effect<TxHash, ExecuteError, Paymaster | StarknetRpc | Ledger>
}

/**
 * The verdict the chain would give these calls now: the same `session_allows` the account computes, then its
 * spending policy, with a precise typed error. Reads the session data, the block time, the allow-list (from the
 * chain when this process does not know it) and the policies of the tokens the calls transfer or approve; counts
 * calls this process has reserved.
 *
 * @since 0.1.0
 * @category checks
 */
export const preflight = (
  params: { readonly walletAddress: string; readonly sessionPublicKey: string; readonly calls: ReadonlyArray<unknown> },
  options: Pick<Options, "retry"> = {}
): Effect.Effect<void, InvalidInput | RpcError | SessionRefusal, StarknetRpc | Ledger> =>
  Effect.gen(function*() {
    const wallet = yield* decode(Address, "walletAddress")(params.walletAddress)
    const sessionPublicKey = yield* decode(Felt, "sessionPublicKey")(params.sessionPublicKey)
    const calls = yield* decode(Schema.Array(Call), "calls")(params.calls)
    const { refusal } = yield* verdictNow(wallet, sessionPublicKey, calls, options.retry)
    if (refusal !== undefined) return yield* refusal
  })

/**
 * Reads the session data, block time, allow-list and the policies of the tokens the calls move, and runs the
 * account's checks on them (`session_allows`, then the spending policy).
 */
const verdictNow = (wallet: Address, sessionPublicKey: Felt, calls: ReadonlyArray<Call>, retry: Options["retry"]) =>
  Effect.gen(function*() {
    const ledger = yield* Ledger
    const known = yield* ledger.allowedEntrypoints(ledgerKey(wallet, sessionPublicKey))
    const state = yield* readChainState(wallet, sessionPublicKey, calls, known, retry)
    const { data, now } = state
    return { data, now, refusal: verdict({ walletAddress: wallet, sessionPublicKey, now, calls, state }) }
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
  privateKey: Redacted.Redacted<Uint8Array>,
  rawCalls: ReadonlyArray<unknown>,
  options: Options
): Effect.Effect<TxHash, ExecuteError, Crypto | Paymaster | StarknetRpc | Ledger> =>
  Effect.gen(function*() {
    const calls = yield* decode(Schema.Array(Call).pipe(Schema.minItems(1, { message: () => "at least one call is required" })), "calls")(rawCalls)
    const crypto = yield* Crypto
    const ledger = yield* Ledger
    const key = ledgerKey(wallet.publicKey, session.publicKey)
    const { data, now, refusal } = yield* verdictNow(wallet.publicKey, session.publicKey, calls, options.retry)
    if (refusal !== undefined) return yield* refusal
    const reservation = yield* ledger.reserve(key, data)
    if (!reservation.ok) {
      return yield* preflightCheck({
        walletAddress: wallet.publicKey,
        sessionPublicKey: session.publicKey,
        stored: data,
        now,
        calls,
        callsUsed: reservation.used
      })!
    }
    // The session signature carries the registered valid_until, which the account compares with its own.
    const signWith = (hash: Felt) =>
      crypto.sign(hash, privateKey).pipe(Effect.map((sig) => sessionSignature(session.publicKey, sig, data.validUntil)))
    return yield* submit(wallet.publicKey, calls, now, signWith, options).pipe(
      // Followed until a wait or a status read sees it final: a revert gives its call back.
      Effect.tap((txHash) => ledger.track(txHash, key, { wallet: wallet.publicKey, sessionPublicKey: session.publicKey, calls })),
      // A submission whose answer was lost went through: its reserved call is spent.
      Effect.tapError((error) => (error._tag === "SubmissionAnswerLost" ? Effect.void : ledger.release(key))),
      Effect.catchIf(
        (error): error is PaymasterError => error instanceof PaymasterError && error.revertReason !== undefined,
        (error) =>
          explain(wallet.publicKey, session.publicKey, calls, error.revertReason ?? "", error).pipe(
            Effect.flatMap((mapped) => Effect.fail(mapped))
          )
      )
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
      const pin = yield* toPin(params.encryptKey, "encryptKey")
      const wallet = yield* decode(WalletData, "wallet")(params.wallet)
      const session = yield* decode(SessionKeyData, "session")(params.session)
      const crypto = yield* Crypto
      // Cached: the guide's per-call executes pay the key derivation once per session, not once per call.
      const privateKey = yield* crypto.decryptPrivateKey(session.encryptedPrivateKey, pin, session.publicKey, { cache: true })
      const handle: SessionHandle = {
        wallet,
        session,
        execute: (calls) => executeWith(wallet, session, privateKey, calls, options).pipe(Effect.provideService(Crypto, crypto))
      }
      return yield* use(handle)
    })
  )

/**
 * Executes one multicall signed by the session key (4-felt signature), sponsored by the paymaster. Fails locally
 * with `NotRegistered`, `Expired`, `MaxCallsExceeded`, `ForbiddenCall`, `EntrypointNotAllowed` or
 * `SpendingLimitExceeded` when the chain would refuse; a refusal by the chain anyway maps to the same errors.
 *
 * @since 0.1.0
 * @category lifecycle
 */
export const execute = (
  params: {
    readonly encryptKey: Pin
    readonly wallet: { readonly publicKey: string; readonly encryptedPrivateKey: string }
    readonly session: { readonly publicKey: string; readonly encryptedPrivateKey: string; readonly validUntil: number }
    readonly calls: ReadonlyArray<{ readonly contractAddress: string; readonly entrypoint: string; readonly calldata?: ReadonlyArray<string | number | bigint> }>
  },
  options: Options = {}
): Effect.Effect<TxHash, ExecuteError, Crypto | Paymaster | StarknetRpc | Ledger> =>
  withSession(params, (handle) => handle.execute(params.calls), options).pipe(
    Effect.withSpan("Sessions.execute", { attributes: { wallet: params.wallet.publicKey, sessionPublicKey: params.session.publicKey } })
  )

// ---------------------------------------------------------------------------------------------------------------
// ... and wait
// ---------------------------------------------------------------------------------------------------------------

/**
 * Every failure of waiting for a transaction.
 *
 * @since 0.1.0
 * @category errors
 */
export type WaitError = Reverted | Timeout | TransactionNotFound | RpcError | InvalidInput

/**
 * `register`, then wait for the transaction to succeed.
 *
 * @since 0.1.0
 * @category lifecycle
 */
export const registerAndWait = (
  params: Parameters<typeof register>[0],
  options: Options & { readonly wait?: Transactions.WaitOptions } = {}
): Effect.Effect<Receipt, SubmitError | WaitError, Crypto | Paymaster | StarknetRpc | Ledger> =>
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
  options: Options & { readonly wait?: Transactions.WaitOptions } = {}
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
): Effect.Effect<Receipt, WaitError | SessionRefusal, StarknetRpc | Ledger> =>
  Transactions.wait(txHash, options).pipe(
    Effect.catchTag("Reverted", (reverted) =>
      Effect.gen(function*() {
        const asked = yield* (yield* Ledger).asked(txHash)
        if (asked === undefined) return yield* reverted
        return yield* Effect.fail(yield* explain(asked.wallet, asked.sessionPublicKey, asked.calls, reverted.revertReason, reverted))
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

/** A refused policy input carries the SDK's code for it. */
const invalidAt = (path: string, rule: string) => new InvalidInput({ path, rule, issues: [{ path, rule }], code: "INVALID_SPENDING_POLICY" })
const asPolicyInput = (error: InvalidInput) => new InvalidInput({ ...error, code: "INVALID_SPENDING_POLICY" })

/**
 * Sets a session's spending policy for a token: an owner-signed, sponsored `set_spending_policy` (it starts a fresh
 * window, nothing spent, at inclusion). The account then refuses any execute of the session whose `transfer`,
 * `approve`, `increase_allowance` or `increaseAllowance` calls on that token exceed it, and `execute` refuses such
 * calls before signing (`SpendingLimitExceeded`). Checked first, nothing signed otherwise: amounts fit u256,
 * `maxPerWindow > 0` (0 is no policy: use `removeSpendingPolicy`), `maxPerCall <= maxPerWindow`, `windowSeconds` a
 * positive integer whose window end fits u64 at the latest time the transaction can be included.
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
  options: Options = {}
): Effect.Effect<TxHash, SubmitError, Crypto | Paymaster | StarknetRpc | Ledger> =>
  Effect.gen(function*() {
    const config = yield* decode(SpendingPolicyConfigSchema, "spendingPolicyConfig")(params.spendingPolicyConfig).pipe(
      Effect.mapError(asPolicyInput)
    )
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
    const rpc = yield* StarknetRpc
    const block = yield* Transactions.retryTransient(rpc.latestBlock, options.retry)
    // The window starts at inclusion, at the latest when the signed outside execution stops being valid.
    const validity = Math.ceil(Duration.toSeconds(Duration.decode(options.validity ?? DEFAULT_VALIDITY)))
    if (windowOverflowsAt(config.windowSeconds, BigInt(block.timestamp + validity))) {
      return yield* invalidAt(
        "spendingPolicyConfig.windowSeconds",
        `windowSeconds ${config.windowSeconds} makes the window's end overflow u64; the account would refuse every call it limits`
      )
    }
    const calldata = [
      config.sessionPublicKey,
      config.token,
      ...splitU256(config.maxPerCall),
      ...splitU256(config.maxPerWindow),
      toHex(config.windowSeconds) as Felt
    ]
    return yield* ownerSubmit(params, "set_spending_policy", calldata, config.sessionPublicKey, undefined, options)
  }).pipe(Effect.withSpan("Sessions.setSpendingPolicy", { attributes: { sessionPublicKey: String(params.spendingPolicyConfig?.sessionPublicKey) } }))

/**
 * Removes a session's spending policy for a token: an owner-signed, sponsored `remove_spending_policy`. The session
 * then has no limit on that token's amounts.
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
  options: Options = {}
): Effect.Effect<TxHash, SubmitError, Crypto | Paymaster | StarknetRpc | Ledger> =>
  Effect.gen(function*() {
    const sessionPublicKey = yield* decode(Felt, "sessionPublicKey")(params.sessionPublicKey).pipe(Effect.mapError(asPolicyInput))
    const token = yield* decode(Address, "token")(params.token).pipe(Effect.mapError(asPolicyInput))
    return yield* ownerSubmit(params, "remove_spending_policy", [sessionPublicKey, token], sessionPublicKey, undefined, options)
  }).pipe(Effect.withSpan("Sessions.removeSpendingPolicy", { attributes: { sessionPublicKey: params.sessionPublicKey } }))

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
    const walletAddress = yield* decode(Address, "walletAddress")(params.walletAddress)
    const sessionPublicKey = yield* decode(Felt, "sessionPublicKey")(params.sessionPublicKey)
    const token = yield* decode(Address, "token")(params.token)
    const rpc = yield* StarknetRpc
    const [policy, block] = yield* Effect.all([
      readPolicy(walletAddress, sessionPublicKey, token, options.retry),
      Transactions.retryTransient(rpc.latestBlock, options.retry)
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
  options: Options & { readonly wait?: Transactions.WaitOptions } = {}
): Effect.Effect<Receipt, SubmitError | WaitError, Crypto | Paymaster | StarknetRpc | Ledger> =>
  Effect.flatMap(setSpendingPolicy(params, options), (hash) => Transactions.wait(hash, options.wait))

/**
 * `removeSpendingPolicy`, then wait for the transaction to succeed.
 *
 * @since 0.1.0
 * @category spending
 */
export const removeSpendingPolicyAndWait = (
  params: Parameters<typeof removeSpendingPolicy>[0],
  options: Options & { readonly wait?: Transactions.WaitOptions } = {}
): Effect.Effect<Receipt, SubmitError | WaitError, Crypto | Paymaster | StarknetRpc | Ledger> =>
  Effect.flatMap(removeSpendingPolicy(params, options), (hash) => Transactions.wait(hash, options.wait))
