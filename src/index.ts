/**
 * starknet-session-keys: session keys for Starknet wallets, as Effects.
 *
 * @since 0.1.0
 */
export * as Calls from "./Calls.js"
export * as Chipi from "./Chipi.js"
export * as Constants from "./Constants.js"
export * as Crypto from "./Crypto.js"
export * as Devnet from "./Devnet.js"
export * as Errors from "./Errors.js"
export * as Ledger from "./Ledger.js"
export * as Metrics from "./Metrics.js"
export * as OutsideExecution from "./OutsideExecution.js"
export * as Paymaster from "./Paymaster.js"
export * as Payments from "./Payments.js"
export * as Policies from "./Policies.js"
export * as Schemas from "./Schemas.js"
export * as Sessions from "./Sessions.js"
export * as Signer from "./Signer.js"
export * as StarknetRpc from "./StarknetRpc.js"
export * as Transactions from "./Transactions.js"
export {
  ClientClosed,
  EntrypointNotAllowed,
  Expired,
  ForbiddenCall,
  InvalidInput,
  InvalidPin,
  LedgerError,
  LivePayloads,
  MaxCallsExceeded,
  NotRegistered,
  OutcomeUnknown,
  PaymasterError,
  PolicyViolation,
  Reverted,
  RpcError,
  SpendingLimitExceeded,
  SignerError,
  Timeout,
  TransactionNotFound,
  TypedDataMismatch,
  WalletHalted
} from "./Errors.js"
export { STARKNET_CONTRACTS } from "./Constants.js"
