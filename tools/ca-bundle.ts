// Writes the CA bundle the AWS provider must trust, from the stack config alone: the stack's
// rootCaCert followed by Node's public roots (infra/provider-ca.ts says why the provider needs
// a file named by AWS_CA_BUNDLE). Deployments, CI and the acceptance driver run this before
// the Pulumi CLI starts.
//
//   npm run ca-bundle -- --stack <name> [--config key=value]... [--out <file>]
//
// Prints `export AWS_CA_BUNDLE=<absolute path>`. Exit codes: 0 written, 2 bad input.
import * as fs from "node:fs";
import * as path from "node:path";
import { ConfigValidationError, loadStackConfig } from "../config";
import { CA_BUNDLE_ENV, providerCaBundle } from "../infra/provider-ca";
import { parseOverride, REPO_ROOT, resolveStackConfig } from "./stack-config";

export const USAGE = "usage: npm run ca-bundle -- --stack <name> [--config key=value]... [--out <file>]";

/** The bundle for a stack: its rootCaCert (if any) and the public roots. */
export function stackCaBundle(stack: string, overrides: string[], env: NodeJS.ProcessEnv, root: string = REPO_ROOT): { text: string; hasRootCa: boolean } {
    const input = resolveStackConfig(
        stack,
        overrides.map((o) => parseOverride(o, false)),
        { root },
    );
    // Only rootCaCert matters here; the program itself refuses the example stacks' placeholders.
    const model = loadStackConfig({ stack: input.stack, values: input.values, secretKeys: input.secretKeys, env, placeholders: "allow" });
    return { text: providerCaBundle(model.cloud.rootCaCert), hasRootCa: model.cloud.rootCaCert !== undefined };
}

export function runCaBundleCli(argv: string[], env: NodeJS.ProcessEnv, out: (line: string) => void, root?: string): number {
    let stack = "";
    let file = "";
    const overrides: string[] = [];
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        const value = argv[i + 1];
        if (arg === "--help" || arg === "-h") {
            out(USAGE);
            return 0;
        }
        if ((arg === "--stack" || arg === "--out" || arg === "--config") && value === undefined) {
            out(`error: ${arg} needs a value\n${USAGE}`);
            return 2;
        }
        if (arg === "--stack") {
            stack = value;
        } else if (arg === "--out") {
            file = value;
        } else if (arg === "--config") {
            overrides.push(value);
        } else {
            out(`error: unknown argument "${arg}"\n${USAGE}`);
            return 2;
        }
        i++;
    }
    if (!stack) {
        out(`error: --stack <name> is required\n${USAGE}`);
        return 2;
    }
    const target = path.resolve(file || `ca-bundle.${stack}.pem`);
    try {
        const bundle = stackCaBundle(stack, overrides, env, root);
        fs.writeFileSync(target, bundle.text);
        out(`export ${CA_BUNDLE_ENV}=${target}${bundle.hasRootCa ? "" : "   # no rootCaCert in this stack: public roots only"}`);
        return 0;
    } catch (error) {
        out(`error: ${error instanceof ConfigValidationError || error instanceof Error ? error.message : String(error)}`);
        return 2;
    }
}

if (require.main === module) {
    process.exit(runCaBundleCli(process.argv.slice(2), process.env, (line) => process.stdout.write(`${line}\n`)));
}
