// Where the Kubernetes API is reached. kubeadm's controlPlaneEndpoint must be the API load
// balancer's PRIVATE IP (nodes reach it inside the VPC). The program asks the cloud API for
// it: a network load balancer's network interface carries the description
// `ELB net/<lb name>/<lb id>` (as AWS documents for NLB interfaces), its primary private IP
// is the address, and a public API's address is the public IP associated with it.
// No SSH and no DNS lookup on the bastion. (That zCompute sets the same description is to be
// verified on a real cloud: docs/cleanup.md.)
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { isIpv4Address } from "../model/cidr";

export { API_PORT } from "../infra/network";

export interface ApiEndpointArgs {
    environment: string;
    apiLoadBalancerArn: pulumi.Input<string>;
    apiLoadBalancerId: pulumi.Input<string>;
    /** `elb-<id>.<domain>`. */
    apiInternalDnsName: pulumi.Input<string>;
    apiPublic: boolean;
    provider: aws.Provider;
    parent: pulumi.Resource;
}

/** Checks an address read from the cloud: one IPv4 address. */
export function parseIpv4(text: string, what: string): string {
    const value = text.trim();
    if (!isIpv4Address(value)) {
        throw new Error(`${what}: expected an IPv4 address, got "${value}"`);
    }
    return value;
}

/** `arn:...:loadbalancer/net/<name>/<id>` -> `ELB net/<name>/<id>`: the description of its interfaces. */
export function loadBalancerInterfaceDescription(loadBalancerArn: string): string {
    const match = /:loadbalancer\/((?:net|app)\/[^/]+\/[^/]+)$/.exec(loadBalancerArn);
    if (!match) {
        throw new Error(`not a load balancer ARN: "${loadBalancerArn}"`);
    }
    return `ELB ${match[1]}`;
}

interface LbInterface {
    id: string;
    privateIp: string;
    publicIp?: string;
}

export class ApiEndpoint {
    readonly privateIp: pulumi.Output<string>;
    /** Undefined for an internal API. */
    readonly publicIp: pulumi.Output<string | undefined>;
    /** API server certificate SANs: public IP, private IP, `elb-<id>`, the full internal name. */
    readonly certSans: pulumi.Output<string[]>;

    constructor(args: ApiEndpointArgs) {
        const eni = pulumi.output(args.apiLoadBalancerArn).apply((arn) => this.lookUpInterface(arn, args));
        this.privateIp = eni.apply((e) => parseIpv4(e.privateIp, "API load balancer private IP"));
        this.publicIp = args.apiPublic
            ? eni.apply((e) => {
                  if (!e.publicIp) {
                      throw new Error(`the API load balancer's interface ${e.id} (${e.privateIp}) has no public IP; is the load balancer internet-facing?`);
                  }
                  return parseIpv4(e.publicIp, "API load balancer public IP");
              })
            : pulumi.output(undefined);

        this.certSans = pulumi
            .all([this.publicIp, this.privateIp, args.apiLoadBalancerId, args.apiInternalDnsName])
            .apply(([publicIp, privateIp, lbId, dnsName]) => [publicIp, privateIp, `elb-${lbId}`, dnsName].filter((san): san is string => !!san));
    }

    private async lookUpInterface(arn: string, args: ApiEndpointArgs): Promise<LbInterface> {
        const opts = { provider: args.provider, parent: args.parent };
        const description = loadBalancerInterfaceDescription(arn);
        const found = await aws.ec2.getNetworkInterfaces({ filters: [{ name: "description", values: [description] }] }, opts);
        const ids = [...found.ids].sort();
        if (ids.length === 0) {
            throw new Error(`no network interface with description "${description}": cannot read the API load balancer's address from the cloud API`);
        }
        // One subnet, one interface; with several the first id is taken, the same every run.
        const eni = await aws.ec2.getNetworkInterface({ id: ids[0] }, opts);
        return { id: eni.id, privateIp: eni.privateIp, publicIp: eni.associations?.[0]?.publicIp || undefined };
    }
}
