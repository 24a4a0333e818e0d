// The acceptance run's stack through Pulumi's Automation API: a LocalWorkspace over this
// program (the repository root, its Pulumi.yaml and Pulumi.<stack>.yaml). The stack must exist
// (`pulumi stack init <name>`): the run never creates one, so it cannot run against a stack by
// accident of a typo. AWS_CA_BUNDLE is passed to the CLI, and so to the provider process,
// from the stack's rootCaCert (infra/provider-ca.ts).
import type { AcceptanceStack } from "./types";

export const PROJECT = "zadara-eksd";

export async function pulumiStack(stackName: string, workDir: string, envVars: Record<string, string>): Promise<AcceptanceStack> {
    const automation = await import("@pulumi/pulumi/automation");
    const stack = await automation.LocalWorkspace.selectStack({ stackName, workDir }, { envVars });
    const key = (name: string) => `${PROJECT}:${name}`;
    return {
        async up(onOutput) {
            const result = await stack.up({ onOutput, color: "never" });
            return Object.fromEntries(Object.entries(result.outputs).map(([name, output]) => [name, output.value]));
        },
        async destroy(onOutput) {
            await stack.destroy({ onOutput, color: "never" });
        },
        cancel: () => stack.cancel(),
        async getConfig(name) {
            try {
                return (await stack.getConfig(key(name))).value;
            } catch {
                // The CLI answers an unset key with an error.
                return undefined;
            }
        },
        setConfig: (name, value) => stack.setConfig(key(name), { value }),
        removeConfig: (name) => stack.removeConfig(key(name)),
    };
}
