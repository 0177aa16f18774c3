/**
 * The typed failures of the library. Each carries the facts a caller needs to act and a readable `message`;
 * none carries a secret.
 *
 * Every class also carries a `code`: the one the published Chipi SDK (`@chipi-stack/shared`, `SESSION_ERRORS` and
 * `ERRORS`) gives the same failure, so code that checks `err.code` ports unchanged; a failure the SDK has no code
 * for carries one of ours in the same style. `RpcError` and `PaymasterError` keep the protocol's numeric code
 * (JSON-RPC, SNIP-29, HTTP). The table is in `docs/migrating.md`.
 *
 * A new class gets its code with one field, `code: errorCode("ITS_CODE")` (several codes: the first is the
 * default, the others are set by the constructor's caller). The constructor fills it in, `Schema.encode` writes it
 * and `Schema.decode` restores it (or the default, for an encoding without one). Add the row to the table.
 *
 * @since 0.1.0
 */
import { Duration, Schema } from "effect"

/** The `code` field of an error class: a literal the constructor fills in with the first code unless given one. */
const errorCode = <const Codes extends readonly [string, ...Array<string>]>(...codes: Codes) =>
  Schema.optionalWith(Schema.Literal(...codes), { default: () => codes[0] })

const short = (hex: string): string => (hex.length > 14 ? `${hex.slice(0, 8)}…${hex.slice(-4)}` : hex)

/**
 * The chain reverted the transaction.
 *
 * @since 0.1.0
 * @category errors
 */
export class Reverted extends Schema.TaggedError<Reverted>()("Reverted", {
  code: errorCode("TRANSACTION_FAILED"),
  txHash: Schema.String,
  revertReason: Schema.String
}) {
  override get message() {
    return `transaction ${this.txHash} reverted: ${this.revertReason}`
  }
}

/**
 * A transaction did not reach a final status in the time allowed.
 *
 * @since 0.1.0
 * @category errors
 */
export class Timeout extends Schema.TaggedError<Timeout>()("Timeout", {
  code: errorCode("TRANSACTION_TIMEOUT"),
  txHash: Schema.String,
  waited: Schema.Duration
}) {
  override get message() {
    return `transaction ${this.txHash} not final after ${Duration.format(this.waited)}`
  }
}

/**
 * The session is past its `validUntil` at the current block time.
 *
 * @since 0.1.0
 * @category errors
 */
export class Expired extends Schema.TaggedError<Expired>()("Expired", {
  code: errorCode("SESSION_EXPIRED"),
  sessionPublicKey: Schema.String,
  validUntil: Schema.Number,
  now: Schema.Number
}) {
  override get message() {
    return `session ${short(this.sessionPublicKey)} expired at ${this.validUntil} (now ${this.now})`
  }
}

/**
 * The session has used all of its calls.
 *
 * @since 0.1.0
 * @category errors
 */
export class MaxCallsExceeded extends Schema.TaggedError<MaxCallsExceeded>()("MaxCallsExceeded", {
  code: errorCode("SESSION_MAX_CALLS_EXCEEDED"),
  sessionPublicKey: Schema.String,
  maxCalls: Schema.Number,
  callsUsed: Schema.Number
}) {
  override get message() {
    return `session ${short(this.sessionPublicKey)} has used ${this.callsUsed} of its ${this.maxCalls} calls`
  }
}

/**
 * A call's selector is not in the session's allow-list.
 *
 * @since 0.1.0
 * @category errors
 */
export class EntrypointNotAllowed extends Schema.TaggedError<EntrypointNotAllowed>()("EntrypointNotAllowed", {
  code: errorCode("SESSION_ENTRYPOINT_NOT_ALLOWED"),
  selector: Schema.String,
  entrypoint: Schema.optional(Schema.String)
}) {
  override get message() {
    const name = this.entrypoint !== undefined ? `${this.entrypoint} (${short(this.selector)})` : this.selector
    return `entrypoint ${name} is not in the session's allow-list`
  }
}

/**
 * A call no session may make: an admin-blocklisted selector, or a call to the account itself while the
 * session has no allow-list.
 *
 * @since 0.1.0
 * @category errors
 */
export class ForbiddenCall extends Schema.TaggedError<ForbiddenCall>()("ForbiddenCall", {
  code: errorCode("SESSION_ENTRYPOINT_NOT_ALLOWED"),
  rule: Schema.Literal("blocklist", "self-call"),
  selector: Schema.String,
  entrypoint: Schema.optional(Schema.String),
  contractAddress: Schema.String
}) {
  override get message() {
    const name = this.entrypoint ?? this.selector
    return this.rule === "blocklist"
      ? `entrypoint ${name} is on the session blocklist and can never be called with a session key`
      : `a session without an allow-list may not call its own account (${name} on ${short(this.contractAddress)})`
  }
}

/**
 * The session key is unknown to the account, or revoked (the chain stores both as `valid_until = 0`).
 *
 * @since 0.1.0
 * @category errors
 */
export class NotRegistered extends Schema.TaggedError<NotRegistered>()("NotRegistered", {
  code: errorCode("SESSION_NOT_REGISTERED", "SESSION_REVOKED"),
  sessionPublicKey: Schema.String,
  walletAddress: Schema.String
}) {
  override get message() {
    return `session ${short(this.sessionPublicKey)} is not registered on ${short(this.walletAddress)} (never added, or revoked)`
  }
}

/**
 * The PIN does not decrypt the key (or decrypts it to a key that is not the expected one).
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidPin extends Schema.TaggedError<InvalidPin>()("InvalidPin", {
  code: errorCode("SESSION_DECRYPTION_FAILED"),
  expectedPublicKey: Schema.optional(Schema.String)
}) {
  override get message() {
    return this.expectedPublicKey !== undefined
      ? `the PIN does not decrypt the key of ${short(this.expectedPublicKey)}`
      : "the PIN does not decrypt the key"
  }
}

/**
 * One problem found in an input, with where it is.
 *
 * @since 0.1.0
 * @category errors
 */
export const InputIssue = Schema.Struct({
  path: Schema.String,
  rule: Schema.String
})

/**
 * Input that the library refused at its boundary. `path` names the field, `rule` what it broke.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidInput extends Schema.TaggedError<InvalidInput>()("InvalidInput", {
  code: errorCode("VALIDATION_ERROR", "INVALID_SPENDING_POLICY"),
  path: Schema.String,
  rule: Schema.String,
  issues: Schema.Array(InputIssue)
}) {
  override get message() {
    const more = this.issues.length > 1 ? ` (and ${this.issues.length - 1} more)` : ""
    return `invalid input at ${this.path === "" ? "(root)" : this.path}: ${this.rule}${more}`
  }
}

/**
 * Typed data from a paymaster that does not say what was asked: nothing was signed.
 *
 * @since 0.1.0
 * @category errors
 */
export class TypedDataMismatch extends Schema.TaggedError<TypedDataMismatch>()("TypedDataMismatch", {
  code: errorCode("TYPED_DATA_MISMATCH"),
  field: Schema.String,
  expected: Schema.String,
  actual: Schema.String
}) {
  override get message() {
    return `typed data from the paymaster differs at ${this.field}: expected ${this.expected}, got ${this.actual}; nothing was signed`
  }
}

/**
 * A Starknet JSON-RPC failure. `transient` faults (network, 429, 5xx) are worth retrying.
 *
 * @since 0.1.0
 * @category errors
 */
export class RpcError extends Schema.TaggedError<RpcError>()("RpcError", {
  method: Schema.String,
  code: Schema.Number,
  message: Schema.String,
  transient: Schema.Boolean
}) {}

/**
 * A paymaster refusal. `revertReason` is the account's reason when simulation failed.
 *
 * @since 0.1.0
 * @category errors
 */
export class PaymasterError extends Schema.TaggedError<PaymasterError>()("PaymasterError", {
  code: Schema.Number,
  message: Schema.String,
  revertReason: Schema.optional(Schema.String),
  /**
   * What the refusal means, however the paymaster coded it (AVNU answers most with 156 and a string):
   * `already-sent`: its duplicate filter saw this signed payload within its window (30 s) — says nothing about the
   * payload's outcome; `invalid-signature`, `invalid-time-bounds`; `unauthorized` (API key), `blacklisted` (calls
   * refused by policy), `unavailable` (the service, transient).
   */
  kind: Schema.optional(Schema.Literal("already-sent", "invalid-signature", "invalid-time-bounds", "unauthorized", "blacklisted", "unavailable")),
  transient: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  /** The string `code` of a Chipi REST error body (`INVALID_API_KEY`, …), the SDK's `ChipiApiError.code`. */
  apiCode: Schema.optional(Schema.String)
}) {}

/**
 * The node does not know this transaction hash (yet, or at all).
 *
 * @since 0.1.0
 * @category errors
 */
export class TransactionNotFound extends Schema.TaggedError<TransactionNotFound>()("TransactionNotFound", {
  code: errorCode("TRANSACTION_NOT_FOUND"),
  txHash: Schema.String
}) {
  override get message() {
    return `transaction ${this.txHash} not found`
  }
}

/**
 * An execute whose token amounts would break the session's spending policy for a token: one call above
 * `maxPerCall` (`limit: "perCall"`), or the calls' total for the token above what the current window has left
 * (`limit: "perWindow"`). `requested` is the amount that broke the limit (that call's for `perCall`, the execute's
 * running total for the token for `perWindow`); `remaining` is what the window has left before this execute;
 * `resetsAt` the block time from which the full `maxPerWindow` is available again (`null` when
 * `window_start + window_seconds` overflows u64: the account then refuses every tracked call for that token until
 * the owner sets the policy again).
 *
 * @since 0.1.0
 * @category errors
 */
export class SpendingLimitExceeded extends Schema.TaggedError<SpendingLimitExceeded>()("SpendingLimitExceeded", {
  code: errorCode("SPENDING_LIMIT_EXCEEDED"),
  sessionPublicKey: Schema.String,
  token: Schema.String,
  limit: Schema.Literal("perCall", "perWindow"),
  limitAmount: Schema.BigInt,
  requested: Schema.BigInt,
  remaining: Schema.BigInt,
  resetsAt: Schema.NullOr(Schema.Number)
}) {
  override get message() {
    const head = `session ${short(this.sessionPublicKey)} on token ${short(this.token)}`
    if (this.limit === "perCall") {
      return `${head}: ${this.requested} is above the per-call limit of ${this.limitAmount}`
    }
    if (this.resetsAt === null) {
      return `${head}: the policy's window end overflows u64, so the account refuses every transfer or approval of this token until the policy is set again`
    }
    return `${head}: ${this.requested} is above the ${this.remaining} left of ${this.limitAmount} in this window (resets at ${this.resetsAt})`
  }
}

/**
 * The outcome of a sent payload is not known yet: an attempt may have reached the paymaster and no answer
 * settled it before the retry budget ended. Nothing was sent twice, and nothing more will be sent for it unless
 * asked with the same `idempotencyKey` (which re-sends the same payload, never a new one). The chain decides:
 * `Sessions.resolve({ wallet, idempotencyKey })` waits until it is `Executed` (its nonce is used) or `NotExecuted`
 * (its window closed at `executeBefore` with its nonce unused).
 *
 * @since 0.1.0
 * @category errors
 */
export class OutcomeUnknown extends Schema.TaggedError<OutcomeUnknown>()("OutcomeUnknown", {
  code: errorCode("OUTCOME_UNKNOWN"),
  wallet: Schema.String,
  nonce: Schema.String,
  executeBefore: Schema.Number,
  idempotencyKey: Schema.String
}) {
  override get message() {
    return `the outcome of payload ${short(this.nonce)} for ${short(this.wallet)} (idempotency key ${this.idempotencyKey}) ` +
      `is not known yet: it was not sent twice; it executes at most once, and not at all once ${this.executeBefore} passes unexecuted; ` +
      `resolve it with Sessions.resolve`
  }
}

/**
 * Registering this session key again now could revive payloads it signed that did not execute (refused,
 * reverted or unresolved) while their windows are still open: anyone holding one could then replay it. Safe at
 * `safeAt` (seconds, block time), when the last of them closes. To start a session afresh, create a new key.
 *
 * @since 0.1.0
 * @category errors
 */
export class LivePayloads extends Schema.TaggedError<LivePayloads>()("LivePayloads", {
  code: errorCode("LIVE_PAYLOADS"),
  wallet: Schema.String,
  sessionPublicKey: Schema.String,
  nonces: Schema.Array(Schema.String),
  safeAt: Schema.Number
}) {
  override get message() {
    return `session ${short(this.sessionPublicKey)} has ${this.nonces.length} signed payload(s) that did not execute and stay valid until ${this.safeAt}; ` +
      `registering it again before then could let them be replayed (create a new session key instead, or wait)`
  }
}

/**
 * The ledger (the store of payments and reservations) failed; nothing was sent on its account.
 *
 * @since 0.1.0
 * @category errors
 */
export class LedgerError extends Schema.TaggedError<LedgerError>()("LedgerError", {
  code: errorCode("LEDGER_ERROR"),
  operation: Schema.String,
  message: Schema.String
}) {}

/**
 * A call of a payment would fail if sent now: the account runs a multicall's calls one by one and catches a
 * failing one (it leaves an empty result), so the transaction would SUCCEED, use one of the session's calls and
 * move nothing for this call. Found by simulating the calls as the account runs them (on the state the network
 * executes on), before anything was signed: nothing was sent, no call of the session was used. `reason` is the
 * failing contract's own (`ERC20: insufficient balance`, `ENTRYPOINT_NOT_FOUND`, …).
 *
 * @since 0.1.0
 * @category errors
 */
export class CallWouldFail extends Schema.TaggedError<CallWouldFail>()("CallWouldFail", {
  code: errorCode("CALL_WOULD_FAIL"),
  callIndex: Schema.Number,
  contractAddress: Schema.String,
  entrypoint: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `call ${this.callIndex} (${this.entrypoint} on ${short(this.contractAddress)}) would fail: ${this.reason}; nothing was signed or sent`
  }
}

/**
 * A call of a payment failed inside a transaction that SUCCEEDED: the account caught the failure (it runs a
 * multicall's calls non-atomically), so the session's call was used and nothing of this call moved. The payment is
 * booked as executed without effect: retrying under the same idempotency key sends nothing; a new payment needs a
 * new key. `callUsed` is always true (the account counted the transaction).
 *
 * @since 0.1.0
 * @category errors
 */
export class CallFailed extends Schema.TaggedError<CallFailed>()("CallFailed", {
  code: errorCode("CALL_FAILED"),
  txHash: Schema.String,
  callIndex: Schema.Number,
  contractAddress: Schema.String,
  entrypoint: Schema.String,
  reason: Schema.String,
  callUsed: Schema.Boolean
}) {
  override get message() {
    return `transaction ${this.txHash} succeeded but its call ${this.callIndex} (${this.entrypoint} on ${short(this.contractAddress)}) failed: ` +
      `${this.reason}; the session's call was used and nothing of this call moved`
  }
}

/**
 * A transaction seen pre-confirmed is gone from the node: the block being built that held it was not finalised
 * (SNIP-30: consensus failed to finalise the block proposal). It did not execute there; it may be sent again, or a
 * payload recorded in the ledger may still execute until its window closes (`Sessions.resolve` decides).
 *
 * @since 0.1.0
 * @category errors
 */
export class Dropped extends Schema.TaggedError<Dropped>()("Dropped", {
  code: errorCode("TRANSACTION_DROPPED"),
  txHash: Schema.String
}) {
  override get message() {
    return `transaction ${this.txHash} was pre-confirmed and then dropped (its block was not finalised); it did not execute`
  }
}

/**
 * A call on a Promise client after its `close()`: its services (the embedded devnet, the key cache) are gone.
 *
 * @since 0.1.0
 * @category errors
 */
export class ClientClosed extends Schema.TaggedError<ClientClosed>()("ClientClosed", {
  code: errorCode("CLIENT_CLOSED"),
  method: Schema.String
}) {
  override get message() {
    return `${this.method}: the client is closed (create a new one with createClient)`
  }
}

/**
 * A payment broke one of the rules of this library's policies (`Policies`): checked before anything is signed, so
 * nothing was signed, recorded or sent, and no call of the session was used. `rule` names the rule
 * (`allowed-calls`, `allowed-recipients`, `denied-recipients`, `max-amount-per-call`, `max-calls`, `budget`,
 * `calldata`, or `custom:<name>`), `callIndex` the call that broke it (absent for a rule over the whole payment);
 * the other fields are the facts of that rule.
 *
 * @since 0.1.0
 * @category errors
 */
export class PolicyViolation extends Schema.TaggedError<PolicyViolation>()("PolicyViolation", {
  code: errorCode("POLICY_VIOLATION"),
  rule: Schema.String,
  callIndex: Schema.optional(Schema.Number),
  wallet: Schema.String,
  sessionPublicKey: Schema.String,
  detail: Schema.String,
  contractAddress: Schema.optional(Schema.String),
  entrypoint: Schema.optional(Schema.String),
  recipient: Schema.optional(Schema.String),
  token: Schema.optional(Schema.String),
  amount: Schema.optional(Schema.BigInt),
  limit: Schema.optional(Schema.BigInt),
  /** For `budget`: what the wallet's payments counted in the window before this one. */
  spent: Schema.optional(Schema.BigInt),
  /** For `budget`: the window, seconds. */
  windowSeconds: Schema.optional(Schema.Number)
}) {
  override get message() {
    const at = this.callIndex !== undefined ? ` (call ${this.callIndex})` : ""
    return `policy ${this.rule} refused a payment of session ${short(this.sessionPublicKey)} on ${short(this.wallet)}${at}: ${this.detail}`
  }
}

/**
 * The wallet's payments are stopped: `Sessions.revokeAll` was called for it (at `since`, milliseconds since the Unix
 * epoch). Nothing is signed for the wallet until `Sessions.resumeWallet`.
 *
 * @since 0.1.0
 * @category errors
 */
export class WalletHalted extends Schema.TaggedError<WalletHalted>()("WalletHalted", {
  code: errorCode("WALLET_HALTED"),
  wallet: Schema.String,
  since: Schema.Number
}) {
  override get message() {
    return `payments of wallet ${short(this.wallet)} are stopped (revokeAll at ${new Date(this.since).toISOString()})`
  }
}

/**
 * The signer (`Signer`, a remote signer) refused or failed to sign: `reason` says why (`unauthorized`,
 * `unknown-session`, `hash-mismatch`, `calls-mismatch`, `unreachable`, `invalid-request`, `invalid-answer`, …),
 * `status` is its HTTP status when it answered. Nothing was signed.
 *
 * @since 0.1.0
 * @category errors
 */
export class SignerError extends Schema.TaggedError<SignerError>()("SignerError", {
  code: errorCode("SIGNER_ERROR"),
  reason: Schema.String,
  detail: Schema.String,
  status: Schema.optional(Schema.Number)
}) {
  override get message() {
    return `the signer did not sign (${this.reason}${this.status !== undefined ? `, HTTP ${this.status}` : ""}): ${this.detail}`
  }
}

/**
 * Every typed session failure the chain's rules can produce.
 *
 * @since 0.1.0
 * @category errors
 */
export type SessionRefusal =
  | Expired
  | MaxCallsExceeded
  | EntrypointNotAllowed
  | ForbiddenCall
  | NotRegistered
  | SpendingLimitExceeded
