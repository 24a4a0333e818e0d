// Where the Kubernetes API is reached. kubeadm's controlPlaneEndpoint must be the API load
// balancer's PRIVATE IP (nodes reach it inside the VPC), which only the VPC's DNS knows:
// a command on the bastion resolves `elb-<id>.<domain>`. A public API's address is the
// public IP associated with the load balancer's network interface.
import * as aws from "@pulumi/aws";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { isIpv4Address } from "../model/cidr";
import { shellSingleQuote } from "./node-env";

export { API_PORT } from "../infra/network";
/** How long the bastion waits for the load balancer's name to resolve (attempts x seconds). */
export const DNS_ATTEMPTS = 60;
export const DNS_RETRY_SECONDS = 5;


export interface BastionSsh {
    host: pulumi.Input<string>;
    user: string;
    privateKey: pulumi.Input<string>;
}

export interface ApiEndpointArgs {
    environment: string;
    apiLoadBalancerArn: pulumi.Input<string>;
    apiLoadBalancerId: pulumi.Input<string>;
    /** `elb-<id>.<domain>`. */
    apiInternalDnsName: pulumi.Input<string>;
    apiPublic: boolean;
    bastion: BastionSsh;
    provider: aws.Provider;
    parent: pulumi.Resource;
    /** The network the bastion needs to answer (security-group rules, routes). */
    dependsOn?: pulumi.Resource[];
}

/** Bounded wait on the bastion until the name resolves; prints the first IPv4 address. */
export function resolveAddressScript(dnsName: string): string {
    return [
        `name=${shellSingleQuote(dnsName)}`,
        `for attempt in $(seq 1 ${DNS_ATTEMPTS}); do`,
        `  ip=$(getent ahostsv4 "$name" | awk 'NR == 1 { print $1 }')`,
        `  if [ -n "$ip" ]; then echo "$ip"; exit 0; fi`,
        `  echo "waiting for $name to resolve (attempt $attempt of ${DNS_ATTEMPTS})" >&2`,
        `  sleep ${DNS_RETRY_SECONDS}`,
        "done",
        `echo "$name did not resolve within ${DNS_ATTEMPTS * DNS_RETRY_SECONDS}s" >&2`,
        "exit 1",
    ].join("\n");
}

/** Checks the command's output: one IPv4 address. */
export function parseIpv4(stdout: string, what: string): string {
    const value = stdout.trim();
    if (!isIpv4Address(value)) {
        throw new Error(`${what}: expected an IPv4 address, got "${value}"`);
    }
    return value;
}

export class ApiEndpoint {
    readonly privateIp: pulumi.Output<string>;
    /** Undefined for an internal API. */
    readonly publicIp: pulumi.Output<string | undefined>;
    /** API server certificate SANs: public IP, private IP, `elb-<id>`, the full internal name. */
    readonly certSans: pulumi.Output<string[]>;
    readonly addressCommand: command.remote.Command;

    constructor(args: ApiEndpointArgs) {
        this.addressCommand = new command.remote.Command(`${args.environment}-api-address`, {
            connection: {
                host: args.bastion.host,
                user: args.bastion.user,
                privateKey: pulumi.secret(args.bastion.privateKey),
                dialErrorLimit: 60,
            },
            create: pulumi.output(args.apiInternalDnsName).apply(resolveAddressScript),
            triggers: [args.apiLoadBalancerArn],
        }, { parent: args.parent, dependsOn: args.dependsOn });
        this.privateIp = this.addressCommand.stdout.apply((out) => parseIpv4(out, "API load balancer private IP"));

        this.publicIp = args.apiPublic
            ? this.privateIp.apply((ip) => this.lookUpPublicIp(ip, args))
            : pulumi.output(undefined);

        this.certSans = pulumi.all([this.publicIp, this.privateIp, args.apiLoadBalancerId, args.apiInternalDnsName])
            .apply(([publicIp, privateIp, lbId, dnsName]) =>
                [publicIp, privateIp, `elb-${lbId}`, dnsName].filter((san): san is string => !!san));
    }

    private async lookUpPublicIp(privateIp: string, args: ApiEndpointArgs): Promise<string> {
        const eni = await aws.ec2.getNetworkInterface({
            filters: [{ name: "addresses.private-ip-address", values: [privateIp] }],
        }, { provider: args.provider, parent: args.parent });
        const publicIp = eni.associations?.[0]?.publicIp;
        if (!publicIp) {
            throw new Error(`the API load balancer's interface ${eni.id} (${privateIp}) has no public IP; is the load balancer internet-facing?`);
        }
        return parseIpv4(publicIp, "API load balancer public IP");
    }
}
