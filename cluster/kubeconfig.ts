// SSH to the nodes through the bastion, and what is read back from the first control-plane node:
// the cloud's internal API URL from its metadata. The admin kubeconfig is no longer fetched
// from a node (see admin-credential.ts); each node's bootstrap gate is the readiness wait.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";

/** Dial attempts before giving up on SSH: the node may still be booting. */
export const NODE_DIAL_ERROR_LIMIT = 120;

export interface NodeSshArgs {
    /** The first control-plane node. */
    host: pulumi.Input<string>;
    user: string;
    privateKey: pulumi.Input<string>;
    bastionHost: pulumi.Input<string>;
    bastionUser: string;
    bastionPrivateKey: pulumi.Input<string>;
    /** The node's host key (cluster/host-keys.ts); unset or undefined: not checked. */
    hostKey?: pulumi.Input<string | undefined>;
    /** The bastion's host key; unset or undefined: not checked. */
    bastionHostKey?: pulumi.Input<string | undefined>;
}

export interface CloudMetadataArgs {
    environment: string;
    ssh: NodeSshArgs;
    firstNodeId: pulumi.Input<string>;
    parent: pulumi.Resource;
    /** The first node's bootstrap gate: the node is surely up by then. */
    dependsOn: pulumi.Resource[];
}

/**
 * SSH to a node through the bastion. Each host key given is pinned (pulumi-command refuses a
 * server whose key differs); without one, pulumi-command accepts any key, so the field is left
 * out rather than set empty.
 */
export function nodeConnection(ssh: NodeSshArgs): command.types.input.remote.ConnectionArgs {
    return {
        host: ssh.host,
        user: ssh.user,
        privateKey: pulumi.secret(ssh.privateKey),
        dialErrorLimit: NODE_DIAL_ERROR_LIMIT,
        ...(ssh.hostKey !== undefined ? { hostKey: ssh.hostKey as pulumi.Input<string> } : {}),
        proxy: {
            host: ssh.bastionHost,
            user: ssh.bastionUser,
            privateKey: pulumi.secret(ssh.bastionPrivateKey),
            dialErrorLimit: NODE_DIAL_ERROR_LIMIT,
            ...(ssh.bastionHostKey !== undefined ? { hostKey: ssh.bastionHostKey as pulumi.Input<string> } : {}),
        },
    };
}

/** Prints field cluster_url of the OpenStack-style metadata document (bounded retries). */
export const CLOUD_METADATA_COMMAND = [
    "curl -sf --retry 30 --retry-delay 2 --retry-connrefused --max-time 10 http://169.254.169.254/openstack/latest/meta_data.json",
    '| python3 -c \'import json, sys; print(str(json.load(sys.stdin)["cluster_url"]).rstrip("/"))\'',
].join(" ");

export function parseCloudApiUrl(stdout: string): string {
    const url = stdout.trim().replace(/\/+$/, "");
    if (!/^https?:\/\/[^\s/]+/.test(url)) {
        throw new Error(`cluster_url from the node's metadata is not an http(s) URL: "${url}"`);
    }
    return url;
}

export class CloudMetadata {
    readonly metadataCommand: command.remote.Command;
    readonly cloudApiUrl: pulumi.Output<string>;

    constructor(args: CloudMetadataArgs) {
        this.metadataCommand = new command.remote.Command(
            `${args.environment}-cloud-metadata`,
            {
                connection: nodeConnection(args.ssh),
                create: CLOUD_METADATA_COMMAND,
                triggers: [args.firstNodeId],
            },
            { parent: args.parent, dependsOn: args.dependsOn },
        );
        this.cloudApiUrl = this.metadataCommand.stdout.apply(parseCloudApiUrl);
    }
}
