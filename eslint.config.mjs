// ESLint (flat config) with type-aware typescript-eslint rules. Formatting is Prettier's job
// (.prettierrc); nothing here is about layout.
import js from "@eslint/js";
import { defineConfig } from "eslint/config";
import tseslint from "typescript-eslint";

export default defineConfig(
    {
        // Build output, generated plans and copies of upstream data are not ours to lint.
        ignores: ["node_modules/", "bin/", ".plan/", ".stress/", "**/*.js", "**/*.cjs"],
    },
    js.configs.recommended,
    tseslint.configs.recommendedTypeChecked,
    {
        files: ["**/*.ts"],
        languageOptions: {
            parserOptions: {
                // One TypeScript program from tsconfig.json: the same types `tsc` checks.
                projectService: true,
                tsconfigRootDir: import.meta.dirname,
            },
        },
        linterOptions: {
            reportUnusedDisableDirectives: "error",
        },
        rules: {
            // A dropped promise hides a failed cloud call or a failed assertion. node:test's
            // describe/it return promises the runner itself awaits.
            "@typescript-eslint/no-floating-promises": [
                "error",
                {
                    allowForKnownSafeCalls: [
                        { from: "package", package: "node:test", name: ["describe", "it", "test", "suite", "before", "after", "beforeEach", "afterEach"] },
                    ],
                },
            ],
            "@typescript-eslint/no-misused-promises": "error",
            // `any` flowing into typed code switches the type checker off without a trace.
            "@typescript-eslint/no-unsafe-argument": "error",
            "@typescript-eslint/no-unsafe-assignment": "error",
            "@typescript-eslint/no-unsafe-call": "error",
            "@typescript-eslint/no-unsafe-member-access": "error",
            "@typescript-eslint/no-unsafe-return": "error",
            "@typescript-eslint/no-explicit-any": "error",
            // `x!` hides a missing value until it fails far away: narrow with a check that says
            // what was missing instead.
            "@typescript-eslint/no-non-null-assertion": "error",
            // `_name` marks a parameter that an interface requires but this code does not use.
            "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
            eqeqeq: ["error", "always"],
            "prefer-const": "error",
        },
    },
    {
        // Tests may assert what they just checked: `found!.x` after `assert.ok(found)`. They
        // (and the mock engine they drive) read recorded resource inputs and plan JSON, which are
        // untyped by nature: the assertions check their shape at run time. Floating promises
        // stay errors here too.
        files: ["tests/**/*.ts", "tools/mock-engine.ts", "tools/stack-config.ts"],
        rules: {
            "@typescript-eslint/no-non-null-assertion": "off",
            "@typescript-eslint/no-unsafe-argument": "off",
            "@typescript-eslint/no-unsafe-assignment": "off",
            "@typescript-eslint/no-unsafe-call": "off",
            "@typescript-eslint/no-unsafe-member-access": "off",
            "@typescript-eslint/no-unsafe-return": "off",
            "@typescript-eslint/no-explicit-any": "off",
        },
    },
    {
        // This file is plain ESM JavaScript outside tsconfig.json: no type information.
        files: ["eslint.config.mjs"],
        extends: [tseslint.configs.disableTypeChecked],
    },
);
