/**
 * An app as a user has it: the package built (`tsc -p tsconfig.build.json`, as `npm pack` builds it) into
 * `node_modules/starknet-session-keys` of a fresh directory beside the same `effect` and peers (symlinks to this
 * checkout's), a `tsconfig.json` with `strict` and `declaration: true`, no custom conditions: imports resolve through
 * the package's `exports` to `dist/*.d.ts` and `dist/*.js`, as they do for a user.
 */
import { spawnSync } from "node:child_process"
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

export const root = fileURLToPath(new URL("../..", import.meta.url))
const tsc = join(root, "node_modules", "typescript", "bin", "tsc")

export interface App {
  readonly dir: string
  /** Writes a file of the app (path relative to the app). */
  readonly write: (path: string, text: string) => void
  /** Type-checks and emits the app (`out/`): tsc's diagnostics, one per line, paths relative to the app. */
  readonly compile: () => ReadonlyArray<string>
  readonly remove: () => void
}

/** Builds the package into a fresh app directory. Throws with tsc's output if the library itself does not build. */
export const makeApp = (): App => {
  const dir = mkdtempSync(join(tmpdir(), "ssk-app-"))
  const installed = join(dir, "node_modules", "starknet-session-keys")
  mkdirSync(installed, { recursive: true })
  const build = spawnSync(process.execPath, [
    tsc, "-p", join(root, "tsconfig.build.json"), "--outDir", join(installed, "dist"), "--declarationMap", "false", "--sourceMap", "false"
  ], { cwd: root, encoding: "utf8" })
  if (build.status !== 0) throw new Error(`the package does not build:\n${build.stdout}${build.stderr}`)
  cpSync(join(root, "package.json"), join(installed, "package.json"))
  // The app's other dependencies: this checkout's (one effect in the tree, as npm installs peers).
  for (const name of readdirSync(join(root, "node_modules"))) {
    if (name.startsWith(".") || name === "starknet-session-keys") continue
    symlinkSync(join(root, "node_modules", name), join(dir, "node_modules", name))
  }
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "an-app", private: true, type: "module" }))
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({
    compilerOptions: {
      target: "ES2022",
      module: "NodeNext",
      moduleResolution: "NodeNext",
      strict: true,
      declaration: true,
      skipLibCheck: true,
      types: ["node"],
      outDir: "out"
    },
    include: ["src"]
  }))
  return {
    dir,
    write: (path, text) => {
      mkdirSync(dirname(join(dir, path)), { recursive: true })
      writeFileSync(join(dir, path), text)
    },
    compile: () => {
      const result = spawnSync(process.execPath, [tsc, "-p", join(dir, "tsconfig.json"), "--pretty", "false"], { cwd: dir, encoding: "utf8" })
      return `${result.stdout}${result.stderr}`.split("\n").filter((line) => line.trim() !== "")
    },
    remove: () => rmSync(dir, { recursive: true, force: true })
  }
}
