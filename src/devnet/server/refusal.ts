/**
 * The text of a refusal by a Schema, bounded in length and in the work it takes, whatever the value refused: the
 * path to the first failure, what was expected there, and the value given, cut short. Effect's `TreeFormatter`
 * writes the whole value and the whole expected type at every level of the tree: for params of 10,000 members it
 * took tens of milliseconds of the event loop and answered 100 KB. Here a value is rendered to at most
 * `VALUE_CHARS` characters (a few of its members), an expected type is described once per Schema node and cut to
 * `EXPECTED_CHARS`, and the whole text to `REFUSAL_CHARS`.
 */
import { type ParseResult, SchemaAST as AST } from "effect"

/** Longest rendering of a refused value. */
export const VALUE_CHARS = 120
/** Longest description of an expected type. */
export const EXPECTED_CHARS = 240
/** Longest refusal text. */
export const REFUSAL_CHARS = 600

const cut = (text: string, max: number): string => (text.length > max ? text.slice(0, max - 1) + "…" : text)

/** Renders `u` in at most about `budget` characters, looking at no more of it than that needs. */
export const renderValue = (u: unknown, budget: number = VALUE_CHARS): string => {
  const go = (v: unknown, left: number, depth: number): string => {
    switch (typeof v) {
      case "string":
        return JSON.stringify(v.length > left ? v.slice(0, Math.max(0, left)) : v) + (v.length > left ? `…(${v.length} chars)` : "")
      case "number":
      case "boolean":
        return String(v)
      case "bigint":
        return cut(`${v}n`, Math.max(8, left))
      case "undefined":
        return "undefined"
      case "symbol":
      case "function":
        return typeof v
    }
    if (v === null) return "null"
    const array = Array.isArray(v)
    const keys = array ? undefined : Object.keys(v as object)
    const size = array ? (v as Array<unknown>).length : keys!.length
    if (size === 0) return array ? "[]" : "{}"
    if (depth >= 3 || left < 8) return array ? `[…${size} items]` : `{…${size} keys}`
    const parts: Array<string> = []
    let used = 2
    for (let i = 0; i < size; i++) {
      const part = array
        ? go((v as Array<unknown>)[i], left - used, depth + 1)
        : `${JSON.stringify(cut(keys![i]!, 40))}:${go((v as Record<string, unknown>)[keys![i]!], left - used - 8, depth + 1)}`
      if (used + part.length > left && parts.length > 0) {
        parts.push(`…${size - i} more`)
        break
      }
      parts.push(part)
      used += part.length + 1
    }
    return array ? `[${parts.join(",")}]` : `{${parts.join(",")}}`
  }
  return go(u, budget, 0)
}

const described = new WeakMap<AST.AST, string>()

/** What a Schema node expects, described once per node (a union of structs describes itself in thousands of characters). */
const expected = (ast: AST.AST): string => {
  let text = described.get(ast)
  if (text === undefined) {
    text = cut(String(ast), EXPECTED_CHARS)
    described.set(ast, text)
  }
  return text
}

/** A message annotation's text, when it gives one as a string. */
const annotated = (issue: ParseResult.ParseIssue): { readonly message: string; readonly override: boolean } | undefined => {
  if (!("ast" in issue)) return undefined
  const annotation = AST.getMessageAnnotation(issue.ast)
  if (annotation._tag === "None") return undefined
  // An annotation may write the value into its message (`Entrypoint` does): it is given the value cut short.
  const given = annotation.value(
    typeof issue.actual === "string" && issue.actual.length > VALUE_CHARS
      ? Object.assign(Object.create(Object.getPrototypeOf(issue) as object) as ParseResult.ParseIssue, issue, { actual: cut(issue.actual, VALUE_CHARS) })
      : issue
  )
  if (typeof given === "string") return { message: given, override: false }
  if (typeof given === "object" && given !== null && "override" in given && typeof given.message === "string") {
    return { message: given.message, override: given.override }
  }
  return undefined
}

const mismatch = (ast: AST.AST, actual: unknown) => `Expected ${expected(ast)}, actual ${renderValue(actual)}`

const formatKey = (key: PropertyKey) => `[${typeof key === "string" ? JSON.stringify(cut(key, 80)) : String(key)}]`

/**
 * The refusal of `issue` in one line: `["path"]["to"]: what is wrong`, bounded by `REFUSAL_CHARS`. Follows the
 * first failure down (a Schema decoded with `errors: "first"` has one); a union none of whose members fits is
 * described as a whole.
 */
export const describeIssue = (issue: ParseResult.ParseIssue): string => {
  const path: Array<string> = []
  let message: string | undefined
  let current: ParseResult.ParseIssue | undefined = issue
  // A walk down one branch: its length is the Schema's depth, and the bounds keep values shallow.
  for (let steps = 0; current !== undefined && message === undefined && steps < 256; steps++) {
    const at: ParseResult.ParseIssue = current
    const annotation = annotated(at)
    switch (at._tag) {
      case "Pointer":
        for (const key of Array.isArray(at.path) ? at.path : [at.path]) path.push(formatKey(key as PropertyKey))
        current = at.issue
        break
      case "Type":
        message = annotation?.message ?? at.message ?? mismatch(at.ast, at.actual)
        break
      case "Missing":
        message = at.message ?? "is missing"
        break
      case "Unexpected":
        message = at.message ?? "is unexpected"
        break
      case "Forbidden":
        message = at.message ?? "is forbidden"
        break
      case "Refinement":
        if (annotation !== undefined && (annotation.override || at.kind === "Predicate")) message = annotation.message
        else current = at.issue
        break
      case "Transformation":
        if (annotation !== undefined && (annotation.override || at.kind === "Transformation")) message = annotation.message
        else current = at.issue
        break
      case "Composite": {
        if (annotation?.override === true) {
          message = annotation.message
          break
        }
        const all: ReadonlyArray<ParseResult.ParseIssue> = Array.isArray(at.issues) ? at.issues : [at.issues as ParseResult.ParseIssue]
        // An optional value's `undefined` member is not what a value given was meant as.
        const inner: ReadonlyArray<ParseResult.ParseIssue> = AST.isUnion(at.ast) && at.actual !== undefined
          ? all.filter((i) => !(i._tag === "Type" && AST.isUndefinedKeyword(i.ast)))
          : all
        // A union with several candidate members: which one was meant is not known, so the union is named.
        if (AST.isUnion(at.ast) && inner.length !== 1) message = mismatch(at.ast, at.actual)
        else current = inner[0]
        break
      }
    }
  }
  const where = path.join("")
  return cut(where === "" ? (message ?? "is invalid") : `${where}: ${message ?? "is invalid"}`, REFUSAL_CHARS)
}
