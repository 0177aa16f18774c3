/**
 * Protocol constants: chain ids, selectors, interface ids and the public token contracts.
 *
 * @since 0.1.0
 */
import type { Address, Felt } from "./Schemas.js"

/** @since 0.1.0 @category chain ids */
export const SN_MAIN = "0x534e5f4d41494e" as Felt
/** @since 0.1.0 @category chain ids */
export const SN_SEPOLIA = "0x534e5f5345504f4c4941" as Felt

/** `"ANY_CALLER"` as a felt: any relayer may submit the outside execution. @since 0.1.0 */
export const ANY_CALLER = "0x414e595f43414c4c4552" as Felt

/** `'VALID'`, what `is_valid_signature` answers for a good signature. @since 0.1.0 */
export const VALID = "0x56414c4944" as Felt

/**
 * Selectors (starknet_keccak of the entrypoint names) the protocol uses.
 *
 * @since 0.1.0
 * @category selectors
 */
export const SELECTORS = {
  add_or_update_session_key: "0x27d4f8b711f8a318b18cac75c0b7c9941844dbbece6f62ca10111055acb64c1",
  revoke_session_key: "0x32d4c11046940bbba0d48557b365ca002c6adc3f58d28671c8b7542ab7d60e9",
  get_session_data: "0x22ab76a647098ec53b3907885af4dcbe973ac395dd2baba3e0a3cc74a79a175",
  execute_from_outside_v2: "0x34cc13b274446654ca3233ed2c1620d4c5d1d32fd20b47146a3371064bdc57d",
  is_valid_signature: "0x28420862938116cb3bbdbedee07451ccc54d4e9412dbef71142ad1980a30941",
  supports_interface: "0xfe80f537b66d12a00b6d3c072b44afbb716e78dde5c3f0ef116ee93d3e3283",
  set_spending_policy: "0x27b6399a529753e66438fe0341234566c390277e9c20b0f556016eb33bb698",
  remove_spending_policy: "0x28dac008d849601a4f136c3a869aa4dcb43907ea63ab552ecddfd2281144040",
  upgrade: "0xf2f7c15cbe06c8d94597cd91fd7f3369eae842359235712def5584f8d270cd",
  transfer: "0x83afd3f4caedc6eebf44246fe54e38c95e3179a5ec9ea81740eca5b482d12e",
  approve: "0x219209e083275171774dab1df80982e9df2096516f06319c5c6d71ae0a8480c"
} as const satisfies Record<string, string>

/**
 * Entrypoints no session key may ever call, whatever the target (the contract's admin blocklist).
 *
 * @since 0.1.0
 * @category selectors
 */
export const BLOCKLISTED_ENTRYPOINTS = [
  "upgrade",
  "add_or_update_session_key",
  "revoke_session_key",
  "__execute__",
  "set_public_key",
  "setPublicKey",
  "execute_from_outside_v2",
  "set_spending_policy",
  "remove_spending_policy"
] as const

/**
 * Entrypoints the spending policy watches.
 *
 * @since 0.1.0
 * @category selectors
 */
export const SPENDING_ENTRYPOINTS = ["transfer", "approve", "increase_allowance", "increaseAllowance"] as const

/**
 * SNIP-5 interface ids the session account supports.
 *
 * @since 0.1.0
 * @category interfaces
 */
export const INTERFACE_IDS = {
  SRC6: "0x2ceccef7f994940b3962a6c67e0ba4fcd37df7d131417c604f91e03caecc1cd",
  SNIP9_V2: "0x1d1144bb2138366ff28d8e9ab57456b1d332ac42196230c3a602003c89872",
  SESSION_KEY_MANAGER: "0x37ab4f01106526662a612eaa2926df2aa314c4144b964f183805880bbcfa55d"
} as const

/**
 * Public token contracts (the same addresses on mainnet and Sepolia), as the guide's `STARKNET_CONTRACTS`.
 *
 * @since 0.1.0
 * @category tokens
 */
export const STARKNET_CONTRACTS = {
  USDC: {
    contractAddress: "0x33068f6539f8e6e6b131e6b2b814e6c34a5224bc66947c47dab9dfee93b35fb" as Address,
    decimals: 6
  },
  STRK: {
    contractAddress: "0x4718f5a0fc34cc1af16a1cdee98ffb20c31f5cd61d6ab07201858f4287c938d" as Address,
    decimals: 18
  }
} as const

/**
 * The SNIP-29 paymaster error codes and their names (`@starknet-io/starknet-types-09`, `snip-29/errors`); a
 * paymaster's message reads `An error occurred (NAME)`.
 *
 * @since 0.1.0
 * @category paymaster
 */
export const SNIP29_ERROR_NAMES: Readonly<Record<number, string>> = {
  150: "INVALID_ADDRESS",
  151: "TOKEN_NOT_SUPPORTED",
  153: "INVALID_SIGNATURE",
  154: "MAX_AMOUNT_TOO_LOW",
  155: "CLASS_HASH_NOT_SUPPORTED",
  156: "TRANSACTION_EXECUTION_ERROR",
  157: "INVALID_TIME_BOUNDS",
  158: "INVALID_DEPLOYMENT_DATA",
  159: "INVALID_CLASS_HASH",
  160: "INVALID_ID",
  163: "UNKNOWN_ERROR"
}
