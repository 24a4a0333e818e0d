// The worker join tokens reach the cluster through their own Command on the first control-plane
// node: its stdin (a Pulumi secret) holds only the bootstrap-token Secrets of the node groups,
// applied with the node's admin.conf. A token rotation re-runs this Command and nothing else:
// no CA key travels for it (the control-plane bootstrap Commands do not depend on any token).
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";

/** kubectl on the node, admin.conf, the Secrets from stdin; prints only the object names. */
export const APPLY_JOIN_TOKENS_COMMAND = "sudo kubectl --kubeconfig /etc/kubernetes/admin.conf --request-timeout=60s apply -f - -o name";

export interface JoinTokensArgs {
    environment: string;
    connection: command.types.input.remote.ConnectionArgs;
    /** Multi-document YAML of the bootstrap-token Secrets (NodeBootstrap.joinTokenSecrets). */
    secrets: pulumi.Output<string>;
    parent: pulumi.Resource;
    /** The first node's bootstrap gate: the API answers. */
    dependsOn: pulumi.Resource[];
}

export class JoinTokens {
    readonly command: command.remote.Command;

    constructor(args: JoinTokensArgs) {
        this.command = new command.remote.Command(
            `${args.environment}-join-tokens`,
            {
                connection: args.connection,
                create: APPLY_JOIN_TOKENS_COMMAND,
                stdin: pulumi.secret(args.secrets),
                addPreviousOutputInEnv: false,
                logging: "stderr",
            },
            { parent: args.parent, dependsOn: args.dependsOn },
        );
    }
}
