/**
 * The classes the devnet declares, as a node serves them (`starknet_getClassAt`): a Sierra-style ABI for the
 * session account (its v33 entrypoints, per the shared spec) and for the ERC-20 tokens, so that starknet.js's
 * `Contract` works from `getClassAt` without a hand-written ABI. The devnet runs no Sierra: the program is empty.
 */
import { selectorOf } from "../Schemas.js"

/** The class hash the devnet deploys session accounts with (its own; addresses derive from it). */
export const SESSION_ACCOUNT_CLASS_HASH = 0x5e55104acc0a7c1a55e5d3e7d1e70000000000000000000000000000000001n
/** The devnet's ERC-20 class (its own). */
export const TOKEN_CLASS_HASH = 0x5e55104acc0a7c1a55e5d3e7d1e70000000000000000000000000000000002n

const T = {
  felt: "core::felt252",
  bool: "core::bool",
  u8: "core::integer::u8",
  u32: "core::integer::u32",
  u64: "core::integer::u64",
  u128: "core::integer::u128",
  u256: "core::integer::u256",
  address: "core::starknet::contract_address::ContractAddress",
  classHash: "core::starknet::class_hash::ClassHash",
  call: "core::starknet::account::Call",
  calls: "core::array::Array::<core::starknet::account::Call>",
  felts: "core::array::Array::<core::felt252>",
  span: "core::array::Span::<core::felt252>",
  results: "core::array::Array::<core::array::Span::<core::felt252>>",
  outside: "session_account::OutsideExecution",
  sessionData: "session_account::SessionData",
  policy: "session_account::SpendingPolicy"
} as const

type Io = ReadonlyArray<readonly [name: string, type: string]>
const fn = (name: string, inputs: Io, outputs: ReadonlyArray<string>, mutability: "view" | "external") => ({
  type: "function",
  name,
  inputs: inputs.map(([n, type]) => ({ name: n, type })),
  outputs: outputs.map((type) => ({ type })),
  state_mutability: mutability
})
const struct = (name: string, members: Io) => ({ type: "struct", name, members: members.map(([n, type]) => ({ name: n, type })) })
const u256 = struct(T.u256, [["low", T.u128], ["high", T.u128]])
const callStruct = struct(T.call, [["to", T.address], ["selector", T.felt], ["calldata", T.span]])
const boolEnum = { type: "enum", name: T.bool, variants: [{ name: "False", type: "()" }, { name: "True", type: "()" }] }
const event = (owner: string, name: string, members: ReadonlyArray<readonly [string, string, "key" | "data"]>) => ({
  type: "event",
  name: `${owner}::${name}`,
  kind: "struct",
  members: members.map(([n, type, kind]) => ({ name: n, type, kind }))
})
const eventEnum = (owner: string, names: ReadonlyArray<string>) => ({
  type: "event",
  name: `${owner}::Event`,
  kind: "enum",
  variants: names.map((name) => ({ name, type: `${owner}::${name}`, kind: "nested" }))
})

const ACCOUNT = "session_account::SessionAccount"
const accountFunctions = [
  fn("__validate__", [["calls", T.calls]], [T.felt], "external"),
  fn("__execute__", [["calls", T.calls]], [T.results], "external"),
  fn("is_valid_signature", [["hash", T.felt], ["signature", T.felts]], [T.felt], "view"),
  fn("supports_interface", [["interface_id", T.felt]], [T.bool], "view"),
  fn("get_public_key", [], [T.felt], "view"),
  fn("getPublicKey", [], [T.felt], "view"),
  fn("set_public_key", [["new_public_key", T.felt]], [], "external"),
  fn("setPublicKey", [["newPublicKey", T.felt]], [], "external"),
  fn("execute_from_outside_v2", [["outside_execution", T.outside], ["signature", T.span]], [T.results], "external"),
  fn("is_valid_outside_execution_nonce", [["nonce", T.felt]], [T.bool], "view"),
  fn("get_snip9_version", [], [T.u8], "view"),
  fn("add_or_update_session_key", [["session_key", T.felt], ["valid_until", T.u64], ["max_calls", T.u32], ["allowed_entrypoints", T.felts]], [], "external"),
  fn("revoke_session_key", [["session_key", T.felt]], [], "external"),
  fn("get_session_data", [["session_key", T.felt]], [T.sessionData], "view"),
  fn("get_session_allowed_entrypoints_len", [["session_key", T.felt]], [T.u32], "view"),
  fn("get_session_allowed_entrypoint_at", [["session_key", T.felt], ["index", T.u32]], [T.felt], "view"),
  fn("compute_session_message_hash", [["calls", T.calls], ["valid_until", T.u64]], [T.felt], "view"),
  fn("set_spending_policy", [["session_key", T.felt], ["token", T.address], ["max_per_call", T.u256], ["max_per_window", T.u256], ["window_seconds", T.u64]], [], "external"),
  fn("remove_spending_policy", [["session_key", T.felt], ["token", T.address]], [], "external"),
  fn("get_spending_policy", [["session_key", T.felt], ["token", T.address]], [T.policy], "view"),
  fn("get_contract_info", [], [T.felt], "view"),
  fn("register_interfaces", [], [], "external"),
  fn("upgrade", [["new_class_hash", T.classHash]], [], "external")
]
const accountAbi = [
  { type: "impl", name: "SessionAccountImpl", interface_name: "session_account::ISessionAccount" },
  u256,
  callStruct,
  boolEnum,
  struct(T.outside, [["caller", T.address], ["nonce", T.felt], ["execute_after", T.u64], ["execute_before", T.u64], ["calls", "core::array::Span::<core::starknet::account::Call>"]]),
  struct(T.sessionData, [["valid_until", T.u64], ["max_calls", T.u32], ["calls_used", T.u32], ["allowed_entrypoints_len", T.u32]]),
  struct(T.policy, [["max_per_call", T.u256], ["max_per_window", T.u256], ["window_seconds", T.u64], ["spent_in_window", T.u256], ["window_start", T.u64]]),
  { type: "interface", name: "session_account::ISessionAccount", items: accountFunctions },
  { type: "constructor", name: "constructor", inputs: [{ name: "public_key", type: T.felt }] },
  event(ACCOUNT, "SessionKeyAdded", [["session_key", T.felt, "key"], ["valid_until", T.u64, "data"], ["max_calls", T.u32, "data"]]),
  event(ACCOUNT, "SessionKeyRevoked", [["session_key", T.felt, "key"]]),
  event(ACCOUNT, "SpendingPolicySet", [["session_key", T.felt, "key"], ["token", T.address, "key"], ["max_per_call", T.u256, "data"], ["max_per_window", T.u256, "data"], ["window_seconds", T.u64, "data"]]),
  event(ACCOUNT, "SpendingPolicyRemoved", [["session_key", T.felt, "key"], ["token", T.address, "key"]]),
  eventEnum(ACCOUNT, ["SessionKeyAdded", "SessionKeyRevoked", "SpendingPolicySet", "SpendingPolicyRemoved"])
]

const TOKEN = "devnet_token::ERC20"
const tokenFunctions = [
  fn("name", [], [T.felt], "view"),
  fn("symbol", [], [T.felt], "view"),
  fn("decimals", [], [T.u8], "view"),
  fn("total_supply", [], [T.u256], "view"),
  fn("totalSupply", [], [T.u256], "view"),
  fn("balance_of", [["account", T.address]], [T.u256], "view"),
  fn("balanceOf", [["account", T.address]], [T.u256], "view"),
  fn("allowance", [["owner", T.address], ["spender", T.address]], [T.u256], "view"),
  fn("transfer", [["recipient", T.address], ["amount", T.u256]], [T.bool], "external"),
  fn("transfer_from", [["sender", T.address], ["recipient", T.address], ["amount", T.u256]], [T.bool], "external"),
  fn("transferFrom", [["sender", T.address], ["recipient", T.address], ["amount", T.u256]], [T.bool], "external"),
  fn("approve", [["spender", T.address], ["amount", T.u256]], [T.bool], "external"),
  fn("increase_allowance", [["spender", T.address], ["added_value", T.u256]], [T.bool], "external"),
  fn("increaseAllowance", [["spender", T.address], ["addedValue", T.u256]], [T.bool], "external")
]
const tokenAbi = [
  { type: "impl", name: "ERC20Impl", interface_name: "devnet_token::IERC20" },
  u256,
  boolEnum,
  { type: "interface", name: "devnet_token::IERC20", items: tokenFunctions },
  event(TOKEN, "Transfer", [["from", T.address, "key"], ["to", T.address, "key"], ["value", T.u256, "data"]]),
  event(TOKEN, "Approval", [["owner", T.address, "key"], ["spender", T.address, "key"], ["value", T.u256, "data"]]),
  eventEnum(TOKEN, ["Transfer", "Approval"])
]

export interface DeclaredClass {
  readonly classHash: bigint
  readonly abi: ReadonlyArray<unknown>
  /** The selectors of the external entrypoints (views included, as in Sierra). */
  readonly selectors: ReadonlySet<bigint>
}

const declared = (classHash: bigint, abi: ReadonlyArray<unknown>, functions: ReadonlyArray<{ readonly name: string }>): DeclaredClass => ({
  classHash,
  abi,
  selectors: new Set(functions.map((f) => BigInt(selectorOf(f.name))))
})

export const ACCOUNT_CLASS = declared(SESSION_ACCOUNT_CLASS_HASH, accountAbi, accountFunctions)
export const TOKEN_CLASS = declared(TOKEN_CLASS_HASH, tokenAbi, tokenFunctions)

export const classOf = (kind: "account" | "token"): DeclaredClass => (kind === "account" ? ACCOUNT_CLASS : TOKEN_CLASS)

/** `CONTRACT_CLASS` of spec 0.9, with the ABI as the JSON string nodes send. */
export const contractClass = (c: DeclaredClass) => ({
  sierra_program: [],
  contract_class_version: "0.1.0",
  entry_points_by_type: {
    CONSTRUCTOR: c === ACCOUNT_CLASS ? [{ selector: selectorOf("constructor"), function_idx: 0 }] : [],
    EXTERNAL: [...c.selectors].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map((selector, i) => ({
      selector: "0x" + selector.toString(16),
      function_idx: i + 1
    })),
    L1_HANDLER: []
  },
  abi: JSON.stringify(c.abi)
})
