// ZadaraNetwork under the mock engine: what each scenario registers, with which inputs and
// through which provider. Four networks share one stack (distinct names and environments):
// public API with a root CA, internal API with a long environment name, and two
// bring-your-own-VPC variants.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import * as YAML from "yaml";
import { mockState, RecordedResource, settle, startMockEngine } from "../tools/mock-engine";
import type * as networkModule from "../infra/network";

const recorded: RecordedResource[] = startMockEngine({ project: "zadara-eksd", stack: "test" });

const ROOT_CA = [
    "-----BEGIN CERTIFICATE-----",
    "MIIBszCCAVmgAwIBAgIUZmFrZSByb290IGNhIGZvciB0ZXN0czAKBggqhkjOPQQD",
    "AjAXMRUwEwYDVQQDDAxUZXN0IFJvb3QgQ0EwHhcNMjYwMTAxMDAwMDAwWhcNMzYw",
    "MTAxMDAwMDAwWjAXMRUwEwYDVQQDDAxUZXN0IFJvb3QgQ0EwWTATBgcqhkjOPQIB",
    "-----END CERTIFICATE-----",
    "",
].join("\n");

const EXISTING = {
    vpcId: "vpc-0123456789abcdef0",
    publicSubnetId: "subnet-0aaaaaaaaaaaaaaaa",
    privateSubnetId: "subnet-0bbbbbbbbbbbbbbbb",
};

const T = {
    vpc: "aws:ec2/vpc:Vpc",
    dhcp: "aws:ec2/vpcDhcpOptions:VpcDhcpOptions",
    dhcpAssociation: "aws:ec2/vpcDhcpOptionsAssociation:VpcDhcpOptionsAssociation",
    igw: "aws:ec2/internetGateway:InternetGateway",
    subnet: "aws:ec2/subnet:Subnet",
    routeTable: "aws:ec2/routeTable:RouteTable",
    routeTableAssociation: "aws:ec2/routeTableAssociation:RouteTableAssociation",
    defaultRouteTable: "aws:ec2/defaultRouteTable:DefaultRouteTable",
    route: "aws:ec2/route:Route",
    nat: "aws:ec2/natGateway:NatGateway",
    eip: "aws:ec2/eip:Eip",
    defaultSg: "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
    sg: "aws:ec2/securityGroup:SecurityGroup",
    sgRule: "aws:ec2/securityGroupRule:SecurityGroupRule",
    tag: "aws:ec2/tag:Tag",
    lb: "aws:lb/loadBalancer:LoadBalancer",
    instance: "aws:ec2/instance:Instance",
    randomId: "random:index/randomId:RandomId",
};

/** Resource types that take tags and must carry Name + Environment + the user's tags. */
const TAGGED_TYPES = [T.vpc, T.dhcp, T.igw, T.subnet, T.routeTable, T.defaultRouteTable, T.nat, T.lb, T.instance];
/** zCompute rejects or drops tags on these. */
const UNTAGGED_TYPES = [T.sg, T.defaultSg, T.eip];

type Network = networkModule.ZadaraNetwork;
let mod: typeof networkModule;
let providerRef: string;
const networks: Record<string, Network> = {};

function valueOf<V>(output: pulumi.Output<V>): Promise<V> {
    return new Promise((resolve) =>
        output.apply((value) => {
            resolve(value);
            return value;
        }),
    );
}

/** Direct children of the network component registered under `name`. */
function childrenOf(name: string): RecordedResource[] {
    const component = recorded.find((r) => r.type === "zadara:eksd:ZadaraNetwork" && r.name === name);
    assert.ok(component, `component ${name} registered`);
    return recorded.filter((r) => r.parent === component.urn);
}

function ofType(name: string, type: string): RecordedResource[] {
    return childrenOf(name).filter((r) => r.type === type);
}

function single(name: string, type: string, nameSuffix: string): RecordedResource {
    const matches = ofType(name, type).filter((r) => r.name === `${name}-${nameSuffix}`);
    assert.equal(matches.length, 1, `one ${type} named ${name}-${nameSuffix}`);
    // A real id, so that id comparisons below can never pass as undefined === undefined.
    assert.ok(matches[0].id, `${name}-${nameSuffix} has an id`);
    return matches[0];
}

function input<V = unknown>(resource: RecordedResource, key: string): V {
    return resource.inputs[key] as V;
}

function tagsOf(resource: RecordedResource): Record<string, string> {
    return (resource.inputs.tags ?? {}) as Record<string, string>;
}

/** The rules of one group as comparable lines: "ingress tcp 22-22 from <source>". */
function rulesOf(name: string, sgSuffix: string): Set<string> {
    const sg = single(name, T.sg, sgSuffix);
    const names = Object.fromEntries(["k8s-sg", "control-plane-sg", "worker-sg", "bastion-sg"].map((suffix) => [single(name, T.sg, suffix).id, suffix]));
    return new Set(
        ofType(name, T.sgRule)
            .filter((r) => input(r, "securityGroupId") === sg.id)
            .map((r) => {
                const source = input(r, "self") ? "self" : input<string | undefined>(r, "sourceSecurityGroupId");
                const from = source === undefined ? JSON.stringify(input(r, "cidrBlocks")) : (names[source] ?? source);
                return `${input<string>(r, "type")} ${input<string>(r, "protocol")} ${input<number>(r, "fromPort")}-${input<number>(r, "toPort")} ${from}`;
            }),
    );
}

/** Whether a group admits TCP `port` from a source group (self included) or from any CIDR. */
function admits(name: string, target: string, port: number, source: string): boolean {
    const targetId = single(name, T.sg, target).id;
    const sourceId = source === "cidr" ? undefined : single(name, T.sg, source).id;
    return ofType(name, T.sgRule).some((r) => {
        if (input(r, "securityGroupId") !== targetId || input(r, "type") !== "ingress") {
            return false;
        }
        const protocol = input<string>(r, "protocol");
        const covers = protocol === "-1" || (protocol === "tcp" && input<number>(r, "fromPort") <= port && port <= input<number>(r, "toPort"));
        const from =
            source === "cidr"
                ? input(r, "cidrBlocks") !== undefined
                : (input(r, "self") === true && targetId === sourceId) || input(r, "sourceSecurityGroupId") === sourceId;
        return covers && from;
    });
}

before(async () => {
    mod = await import("../infra/network");
    const aws = await import("@pulumi/aws");
    const provider = new aws.Provider("zcompute-test", {
        region: "us-east-1",
        skipCredentialsValidation: true,
        skipRequestingAccountId: true,
    });

    const common = {
        provider,
        vpcCidr: "192.168.0.0/16",
        publicSubnetCidr: "192.168.0.0/24",
        privateSubnetCidr: "192.168.2.0/23",
        dnsServers: ["8.8.8.8", "8.8.4.4"],
        dnsDomain: "symphony.local",
        bastion: { amiId: "ami-0ubuntu2204", instanceType: "z2.medium", keyName: "ops-key", sshCidrs: ["198.51.100.0/24"] },
    };
    networks.pub = new mod.ZadaraNetwork("pub", {
        ...common,
        environment: "dev",
        tags: { team: "platform" },
        apiPublic: true,
        apiAllowedCidrs: ["203.0.113.0/24", "198.51.100.7/32"],
        rootCaCert: ROOT_CA,
    });
    networks.int = new mod.ZadaraNetwork("int", {
        ...common,
        environment: "a-very-long-env-name",
        tags: {},
        apiPublic: false,
        // A VPN range: who may reach the internal API besides the bastion.
        apiAllowedCidrs: ["10.8.0.0/16"],
    });
    networks.byo = new mod.ZadaraNetwork("byo", {
        ...common,
        environment: "byo",
        tags: { team: "platform" },
        existingVpc: EXISTING,
        apiPublic: true,
        apiAllowedCidrs: ["0.0.0.0/0"],
    });
    networks.byosg = new mod.ZadaraNetwork("byosg", {
        ...common,
        environment: "byosg",
        tags: {},
        existingVpc: { ...EXISTING, clusterSecurityGroupId: "sg-0cccccccccccccccc", bastionSecurityGroupId: "sg-0dddddddddddddddd" },
        apiPublic: false,
        apiAllowedCidrs: ["0.0.0.0/0"],
    });
    await settle();

    const providerRecord = recorded.find((r) => r.type === "pulumi:providers:aws" && r.name === "zcompute-test");
    assert.ok(providerRecord?.id);
    providerRef = `${providerRecord.urn}::${providerRecord.id}`;
});

describe("every scenario", () => {
    it("registers every AWS resource with the explicit zCompute provider", () => {
        for (const name of Object.keys(networks)) {
            const awsChildren = childrenOf(name).filter((r) => r.type.startsWith("aws:"));
            assert.ok(awsChildren.length > 0);
            for (const child of awsChildren) {
                assert.equal(child.provider, providerRef, `${child.type} ${child.name} uses the zCompute provider`);
            }
        }
    });

    it("tags taggable resources with Name, Environment and the user's tags", () => {
        for (const [name, env, extra] of [
            ["pub", "dev", { team: "platform" }],
            ["int", "a-very-long-env-name", {}],
            ["byo", "byo", { team: "platform" }],
        ] as const) {
            const tagged = childrenOf(name).filter((r) => TAGGED_TYPES.includes(r.type));
            assert.ok(tagged.length > 0);
            for (const resource of tagged) {
                const tags = tagsOf(resource);
                assert.equal(tags.Environment, env, `${resource.name} Environment`);
                assert.match(tags.Name, new RegExp(`^${env}-`), `${resource.name} Name`);
                for (const [key, value] of Object.entries(extra)) {
                    assert.equal(tags[key], value, `${resource.name} ${key}`);
                }
            }
        }
    });

    it("puts no tags on security groups and EIPs", () => {
        for (const name of Object.keys(networks)) {
            for (const resource of childrenOf(name).filter((r) => UNTAGGED_TYPES.includes(r.type))) {
                assert.equal(resource.inputs.tags, undefined, `${resource.name} has no tags`);
                assert.equal(resource.inputs.tagsAll, undefined, `${resource.name} has no tagsAll`);
            }
        }
    });

    it("tags the workers' SG (never the control plane's) with the cluster tag after creation", () => {
        for (const [name, env] of [
            ["pub", "dev"],
            ["int", "a-very-long-env-name"],
            ["byo", "byo"],
        ]) {
            const tag = single(name, T.tag, "k8s-sg-cluster-tag");
            const sg = single(name, T.sg, "worker-sg");
            assert.equal(input(tag, "resourceId"), sg.id);
            assert.equal(input(tag, "key"), `kubernetes.io/cluster/${env}`);
            assert.equal(input(tag, "value"), "shared");
        }
    });

    it("names the API NLB <env>-eksd-masters-<suffix> within 32 characters", () => {
        for (const name of Object.keys(networks)) {
            const lbName = input<string>(single(name, T.lb, "api-lb"), "name");
            assert.ok(lbName.length <= 32, `${lbName} is at most 32 characters`);
            assert.match(lbName, /^[a-z0-9][a-z0-9-]*-[0-9a-f]{6}$/);
        }
        assert.match(input<string>(single("pub", T.lb, "api-lb"), "name"), /^dev-eksd-masters-[0-9a-f]{6}$/);
        assert.match(input<string>(single("int", T.lb, "api-lb"), "name"), /^a-very-long-env-name-eksd-[0-9a-f]{6}$/);
        const suffix = single("pub", T.randomId, "api-lb-suffix");
        assert.equal(input(suffix, "byteLength"), 3);
        assert.equal(input<Record<string, string>>(suffix, "keepers").environment, "dev");
    });

    it("sets no deletion protection, access logs or cross-zone on the NLB", () => {
        for (const name of Object.keys(networks)) {
            const lb = single(name, T.lb, "api-lb");
            for (const key of ["enableDeletionProtection", "accessLogs", "enableCrossZoneLoadBalancing"]) {
                assert.equal(lb.inputs[key], undefined, `${name} ${key}`);
            }
        }
    });

    it("creates no API listener or target group (the cluster does), only the boot-bundle path to the bastion", () => {
        for (const name of Object.keys(networks)) {
            const listeners = ofType(name, "aws:lb/listener:Listener");
            const targetGroups = ofType(name, "aws:lb/targetGroup:TargetGroup");
            assert.deepEqual(
                listeners.map((l) => l.name),
                [`${name}-bundle-listener`],
            );
            assert.deepEqual(
                targetGroups.map((t) => t.name),
                [`${name}-bundle-tg`],
            );
            const listener = listeners[0];
            const targetGroup = targetGroups[0];
            assert.equal(input(listener, "port"), 8089);
            assert.equal(input(listener, "loadBalancerArn"), single(name, T.lb, "api-lb").id);
            assert.deepEqual(input(listener, "defaultActions"), [{ type: "forward", targetGroupArn: targetGroup.id }]);
            assert.equal(input(targetGroup, "port"), 8089);
            assert.equal(input(targetGroup, "protocol"), "TCP");
            assert.ok(input<string>(targetGroup, "name").length <= 32);
            const attachment = single(name, "aws:lb/targetGroupAttachment:TargetGroupAttachment", "bundle-bastion");
            assert.equal(input(attachment, "targetId"), single(name, T.instance, "bastion").id);
            assert.equal(input(attachment, "targetGroupArn"), targetGroup.id);
        }
    });

    it("keeps the bastion's address out of what the nodes are given: a replaced bastion only changes the target", async () => {
        // The nodes' BUNDLE_URL names the API load balancer (cluster/node-bootstrap.ts); here
        // the network's side: the bastion is reached only through the attachment.
        assert.equal(await valueOf(networks.pub.bundleTargetGroupArn), single("pub", "aws:lb/targetGroup:TargetGroup", "bundle-tg").id);
    });

    it("gives the bastion no IMDSv2 options and no encrypted volume", () => {
        for (const name of Object.keys(networks)) {
            const bastion = single(name, T.instance, "bastion");
            assert.equal(bastion.inputs.metadataOptions, undefined);
            assert.equal(bastion.inputs.rootBlockDevice, undefined);
        }
    });
});

describe("created VPC, public API (pub)", () => {
    it("creates the VPC with DNS support and hostnames", () => {
        const vpc = single("pub", T.vpc, "vpc");
        assert.equal(input(vpc, "cidrBlock"), "192.168.0.0/16");
        assert.equal(input(vpc, "enableDnsSupport"), true);
        assert.equal(input(vpc, "enableDnsHostnames"), true);
        assert.deepEqual(tagsOf(vpc), { team: "platform", Name: "dev-vpc", Environment: "dev" });
    });

    it("creates DHCP options with the DNS servers and domain and associates them", () => {
        const dhcp = single("pub", T.dhcp, "dhcp-options");
        assert.deepEqual(input(dhcp, "domainNameServers"), ["8.8.8.8", "8.8.4.4"]);
        assert.equal(input(dhcp, "domainName"), "symphony.local");
        const association = single("pub", T.dhcpAssociation, "dhcp-options-association");
        assert.equal(input(association, "dhcpOptionsId"), dhcp.id);
        assert.equal(input(association, "vpcId"), single("pub", T.vpc, "vpc").id);
    });

    it("creates the internet gateway in the VPC", () => {
        const igw = single("pub", T.igw, "igw");
        assert.equal(input(igw, "vpcId"), single("pub", T.vpc, "vpc").id);
        assert.equal(tagsOf(igw).Name, "dev-vpc-igw");
    });

    it("creates the subnets with their CIDRs and the CCM/LBC discovery tags", () => {
        const vpcId = single("pub", T.vpc, "vpc").id;
        const publicSubnet = single("pub", T.subnet, "public-subnet");
        const privateSubnet = single("pub", T.subnet, "private-subnet");
        assert.equal(input(publicSubnet, "cidrBlock"), "192.168.0.0/24");
        assert.equal(input(privateSubnet, "cidrBlock"), "192.168.2.0/23");
        assert.equal(input(publicSubnet, "vpcId"), vpcId);
        assert.equal(input(privateSubnet, "vpcId"), vpcId);
        assert.equal(tagsOf(publicSubnet)["kubernetes.io/role/elb"], "1");
        assert.equal(tagsOf(publicSubnet)["kubernetes.io/cluster/dev"], "shared");
        assert.equal(tagsOf(publicSubnet)["kubernetes.io/role/internal-elb"], undefined);
        assert.equal(tagsOf(privateSubnet)["kubernetes.io/role/internal-elb"], "1");
        assert.equal(tagsOf(privateSubnet)["kubernetes.io/cluster/dev"], "shared");
        assert.equal(tagsOf(privateSubnet)["kubernetes.io/role/elb"], undefined);
        assert.equal(ofType("pub", T.subnet).length, 2);
    });

    it("routes the public subnet to the internet gateway", () => {
        const routeTable = single("pub", T.routeTable, "public-rt");
        assert.equal(input(routeTable, "vpcId"), single("pub", T.vpc, "vpc").id);
        assert.deepEqual(input(routeTable, "routes"), [{ cidrBlock: "0.0.0.0/0", gatewayId: single("pub", T.igw, "igw").id }]);
        const associations = ofType("pub", T.routeTableAssociation);
        assert.equal(associations.length, 1, "only the public subnet has an explicit association");
        assert.equal(input(associations[0], "subnetId"), single("pub", T.subnet, "public-subnet").id);
        assert.equal(input(associations[0], "routeTableId"), routeTable.id);
    });

    it("routes the private subnet through the NAT gateway on the VPC's default route table", () => {
        const defaultRouteTable = single("pub", T.defaultRouteTable, "private-rt");
        // The mock VPC reports the default route table id a real VPC would.
        const expected = mockState(T.vpc, "pub-vpc", {}).state.defaultRouteTableId;
        assert.match(String(expected), /^rtb-/);
        assert.equal(input(defaultRouteTable, "defaultRouteTableId"), expected);
        assert.deepEqual(input(defaultRouteTable, "routes"), [{ cidrBlock: "0.0.0.0/0", natGatewayId: single("pub", T.nat, "nat").id }]);
        assert.equal(tagsOf(defaultRouteTable).Name, "dev-vpc-private-rt");
        assert.equal(ofType("pub", T.route).length, 0, "no separate routes next to the inline ones");
    });

    it("puts the NAT gateway in the public subnet with its own EIP, after the IGW and public route", () => {
        const nat = single("pub", T.nat, "nat");
        const eip = single("pub", T.eip, "nat-eip");
        assert.equal(input(eip, "vpc"), true);
        assert.equal(input(nat, "allocationId"), eip.id);
        assert.equal(input(nat, "subnetId"), single("pub", T.subnet, "public-subnet").id);
        for (const dependency of [
            single("pub", T.igw, "igw"),
            single("pub", T.routeTable, "public-rt"),
            single("pub", T.routeTableAssociation, "public-rt-association"),
        ]) {
            assert.ok(nat.dependencies.includes(dependency.urn), `NAT depends on ${dependency.name}`);
        }
        assert.equal(tagsOf(nat).Name, "dev-vpc-nat");
    });

    it("limits the default SG to traffic to and from itself", () => {
        const defaultSg = single("pub", T.defaultSg, "default-sg");
        assert.equal(input(defaultSg, "vpcId"), single("pub", T.vpc, "vpc").id);
        const ingress = input<Array<Record<string, unknown>>>(defaultSg, "ingress");
        const egress = input<Array<Record<string, unknown>>>(defaultSg, "egress");
        assert.deepEqual(
            ingress.map(({ protocol, fromPort, toPort, self }) => ({ protocol, fromPort, toPort, self })),
            [{ protocol: "-1", fromPort: 0, toPort: 0, self: true }],
        );
        assert.deepEqual(
            egress.map(({ protocol, fromPort, toPort, self }) => ({ protocol, fromPort, toPort, self })),
            [{ protocol: "-1", fromPort: 0, toPort: 0, self: true }],
        );
    });

    it("creates the bastion and Kubernetes SGs in the VPC with rules only as separate resources", () => {
        const vpcId = single("pub", T.vpc, "vpc").id;
        for (const [suffix, groupName] of [
            ["bastion-sg", "dev-bastion-sg"],
            ["k8s-sg", "dev-k8s-sg"],
        ]) {
            const sg = single("pub", T.sg, suffix);
            assert.equal(input(sg, "vpcId"), vpcId);
            assert.equal(input(sg, "name"), groupName);
            assert.equal(sg.inputs.ingress, undefined);
            assert.equal(sg.inputs.egress, undefined);
        }
    });

    it("opens SSH to the bastion from the allowed CIDRs and all egress", () => {
        const bastionSg = single("pub", T.sg, "bastion-sg");
        const ssh = single("pub", T.sgRule, "bastion-sg-ssh-in");
        assert.deepEqual(
            {
                type: input(ssh, "type"),
                protocol: input(ssh, "protocol"),
                fromPort: input(ssh, "fromPort"),
                toPort: input(ssh, "toPort"),
                cidrBlocks: input(ssh, "cidrBlocks"),
                securityGroupId: input(ssh, "securityGroupId"),
            },
            { type: "ingress", protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["198.51.100.0/24"], securityGroupId: bastionSg.id },
        );
        const out = single("pub", T.sgRule, "bastion-sg-all-out");
        assert.deepEqual(
            {
                type: input(out, "type"),
                protocol: input(out, "protocol"),
                fromPort: input(out, "fromPort"),
                toPort: input(out, "toPort"),
                cidrBlocks: input(out, "cidrBlocks"),
                securityGroupId: input(out, "securityGroupId"),
            },
            { type: "egress", protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"], securityGroupId: bastionSg.id },
        );
    });

    it("gives the API load balancer's SG (k8s-sg): 6443 from the allowed CIDRs and the nodes, all egress", () => {
        assert.deepEqual(
            rulesOf("pub", "k8s-sg"),
            new Set([
                'ingress tcp 6443-6443 ["203.0.113.0/24","198.51.100.7/32"]',
                "ingress tcp 6443-6443 control-plane-sg",
                "ingress tcp 6443-6443 worker-sg",
                "ingress tcp 8089-8089 control-plane-sg",
                "ingress tcp 8089-8089 worker-sg",
                'egress -1 0-0 ["0.0.0.0/0"]',
            ]),
        );
    });

    it("gives the control plane's SG: all among itself, from workers only the API and the CNI transport", () => {
        assert.deepEqual(
            rulesOf("pub", "control-plane-sg"),
            new Set([
                "ingress -1 0-0 self",
                "ingress tcp 22-22 bastion-sg",
                "ingress tcp 6443-6443 k8s-sg",
                "ingress tcp 6443-6443 worker-sg",
                'ingress tcp 6443-6443 ["203.0.113.0/24","198.51.100.7/32"]',
                "ingress udp 8472-8472 worker-sg",
                "ingress 4 0-0 worker-sg",
                "ingress tcp 179-179 worker-sg",
                "ingress tcp 5473-5473 worker-sg",
                "ingress tcp 4240-4240 worker-sg",
                "ingress tcp 4244-4244 worker-sg",
                'egress -1 0-0 ["0.0.0.0/0"]',
            ]),
        );
    });

    it("gives the workers' SG: all among themselves and from the control plane, SSH from the bastion", () => {
        assert.deepEqual(
            rulesOf("pub", "worker-sg"),
            new Set(["ingress -1 0-0 self", "ingress -1 0-0 control-plane-sg", "ingress tcp 22-22 bastion-sg", 'egress -1 0-0 ["0.0.0.0/0"]']),
        );
    });

    it("keeps etcd (2379/2380) between control-plane nodes and 10250/10257/10259 away from workers, the load balancer, the bastion and any CIDR", () => {
        for (const name of ["pub", "int", "byo"]) {
            for (const port of [2379, 2380, 10250, 10257, 10259]) {
                for (const source of ["worker-sg", "k8s-sg", "bastion-sg", "cidr"]) {
                    assert.equal(admits(name, "control-plane-sg", port, source), false, `${name}: control plane admits ${port} from ${source}`);
                }
            }
            assert.equal(admits(name, "control-plane-sg", 2379, "control-plane-sg"), true, `${name}: etcd clients among control-plane nodes`);
            assert.equal(admits(name, "control-plane-sg", 2380, "control-plane-sg"), true, `${name}: etcd peers`);
            // The API server reaches every kubelet; workers reach the API.
            assert.equal(admits(name, "worker-sg", 10250, "control-plane-sg"), true, `${name}: kubelet from the control plane`);
            assert.equal(admits(name, "control-plane-sg", 6443, "worker-sg"), true);
            assert.equal(admits(name, "k8s-sg", 6443, "worker-sg"), true);
            assert.equal(admits(name, "worker-sg", 10250, "cidr"), false, `${name}: worker kubelet from a CIDR`);
        }
    });

    it("revokes the Kubernetes SGs' rules on delete", () => {
        for (const suffix of ["k8s-sg", "control-plane-sg", "worker-sg"]) {
            assert.equal(input(single("pub", T.sg, suffix), "revokeRulesOnDelete"), true, suffix);
        }
    });

    it("creates an internet-facing NLB in the public subnet with the Kubernetes SG", () => {
        const lb = single("pub", T.lb, "api-lb");
        assert.equal(input(lb, "loadBalancerType"), "network");
        assert.equal(input(lb, "internal"), false);
        assert.deepEqual(input(lb, "subnets"), [single("pub", T.subnet, "public-subnet").id]);
        assert.deepEqual(input(lb, "securityGroups"), [single("pub", T.sg, "k8s-sg").id]);
    });

    it("creates the bastion in the public subnet with its SG, key and an EIP", () => {
        const bastion = single("pub", T.instance, "bastion");
        assert.equal(input(bastion, "ami"), "ami-0ubuntu2204");
        assert.equal(input(bastion, "instanceType"), "z2.medium");
        assert.equal(input(bastion, "keyName"), "ops-key");
        assert.equal(input(bastion, "subnetId"), single("pub", T.subnet, "public-subnet").id);
        assert.deepEqual(input(bastion, "vpcSecurityGroupIds"), [single("pub", T.sg, "bastion-sg").id]);
        assert.equal(tagsOf(bastion).Name, "dev-bastion");
        const eip = single("pub", T.eip, "bastion-eip");
        assert.equal(input(eip, "vpc"), true);
        assert.equal(input(eip, "instance"), bastion.id);
        assert.ok(eip.dependencies.includes(single("pub", T.igw, "igw").urn), "EIP association waits for the IGW");
    });

    it("serves boot bundles from the bastion (systemd unit on BUNDLE_PORT); the root CA stays out of its user data", () => {
        const userData = input<string>(single("pub", T.instance, "bastion"), "userData");
        assert.ok(userData.startsWith("#cloud-config\n"));
        const config = YAML.parse(userData);
        assert.equal(config.ca_certs, undefined, "a root CA bundle of any size must not reach user data");
        assert.ok(!userData.includes(ROOT_CA.split("\n")[1]));
        const unit = config.write_files.find((f: { path: string }) => f.path === "/etc/systemd/system/zadara-eksd-bundles.service");
        assert.match(unit.content, /ExecStart=\/usr\/bin\/python3 -m http\.server 8089 --directory \/var\/lib\/zadara-eksd\/bundles/);
        assert.deepEqual(config.runcmd, [
            ["systemctl", "daemon-reload"],
            ["systemctl", "enable", "--now", "zadara-eksd-bundles.service"],
        ]);
        for (const [suffix, group] of [
            ["control-plane", "control-plane-sg"],
            ["workers", "worker-sg"],
        ]) {
            const rule = single("pub", T.sgRule, `bastion-sg-bundles-from-${suffix}`);
            assert.equal(input(rule, "type"), "ingress");
            assert.equal(input(rule, "fromPort"), 8089);
            assert.equal(input(rule, "toPort"), 8089);
            assert.equal(input(rule, "securityGroupId"), single("pub", T.sg, "bastion-sg").id);
            assert.equal(input(rule, "sourceSecurityGroupId"), single("pub", T.sg, group).id);
        }
        // Through the API load balancer (its health checks, or a balancer that forwards from its own address).
        assert.equal(input(single("pub", T.sgRule, "bastion-sg-bundles-from-lb"), "sourceSecurityGroupId"), single("pub", T.sg, "k8s-sg").id);
    });

    it("writes a bastion cloud-config that the real cloud-init schema check accepts", () => {
        const userData = input<string>(single("pub", T.instance, "bastion"), "userData");
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zadara-eksd-cloud-config-"));
        try {
            const file = path.join(dir, "bastion.yaml");
            fs.writeFileSync(file, userData);
            const result = spawnSync("cloud-init", ["schema", "--config-file", file], { encoding: "utf8" });
            const output = `${result.stdout}\n${result.stderr}`;
            assert.equal(result.status, 0, output);
            assert.doesNotMatch(output, /Error|invalid/, output);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("exports the outputs", async () => {
        const net = networks.pub;
        const lb = single("pub", T.lb, "api-lb");
        const arn = await valueOf(net.apiLoadBalancerArn);
        assert.equal(arn, lb.id);
        const lbId = await valueOf(net.apiLoadBalancerId);
        assert.equal(lbId, arn.split("/").pop());
        assert.match(lbId, /^[0-9a-f]{16}$/);
        assert.equal(await valueOf(net.apiInternalDnsName), `elb-${lbId}.symphony.local`);
        assert.match(await valueOf(net.apiLoadBalancerDnsName), /elb/);
        assert.equal(await valueOf(net.vpcId), single("pub", T.vpc, "vpc").id);
        assert.equal(await valueOf(net.publicSubnetId), single("pub", T.subnet, "public-subnet").id);
        assert.equal(await valueOf(net.privateSubnetId), single("pub", T.subnet, "private-subnet").id);
        assert.equal(await valueOf(net.clusterSecurityGroupId), single("pub", T.sg, "worker-sg").id);
        assert.equal(await valueOf(net.controlPlaneSecurityGroupId), single("pub", T.sg, "control-plane-sg").id);
        assert.equal(await valueOf(net.apiLoadBalancerSecurityGroupId), single("pub", T.sg, "k8s-sg").id);
        assert.equal(await valueOf(net.bastionSecurityGroupId), single("pub", T.sg, "bastion-sg").id);
        assert.ok(net.natGatewayId);
        assert.equal(await valueOf(net.natGatewayId), single("pub", T.nat, "nat").id);
        assert.match(await valueOf(net.bastionPublicIp), /^203\.0\.113\.\d+$/);
        assert.match(await valueOf(net.bastionPrivateIp), /^192\.168\.\d+\.\d+$/);
    });
});

describe("created VPC, internal API (int)", () => {
    it("creates an internal NLB in the private subnet", () => {
        const lb = single("int", T.lb, "api-lb");
        assert.equal(input(lb, "loadBalancerType"), "network");
        assert.equal(input(lb, "internal"), true);
        assert.deepEqual(input(lb, "subnets"), [single("int", T.subnet, "private-subnet").id]);
    });

    it("opens 6443 on the load balancer from the bastion SG, the nodes and the allowed in-VPC/VPN CIDRs only", () => {
        assert.deepEqual(
            rulesOf("int", "k8s-sg"),
            new Set([
                'ingress tcp 6443-6443 ["10.8.0.0/16"]',
                "ingress tcp 6443-6443 bastion-sg",
                "ingress tcp 6443-6443 control-plane-sg",
                "ingress tcp 6443-6443 worker-sg",
                "ingress tcp 8089-8089 control-plane-sg",
                "ingress tcp 8089-8089 worker-sg",
                'egress -1 0-0 ["0.0.0.0/0"]',
            ]),
        );
        assert.ok(rulesOf("int", "control-plane-sg").has("ingress tcp 6443-6443 bastion-sg"));
    });

    it("has the same bastion user data without a root CA", () => {
        assert.equal(single("int", T.instance, "bastion").inputs.userData, single("pub", T.instance, "bastion").inputs.userData);
    });
});

describe("bring your own VPC (byo, byosg)", () => {
    it("creates no VPC, subnet, gateway, NAT, route, route table or DHCP options", () => {
        for (const name of ["byo", "byosg"]) {
            for (const type of [
                T.vpc,
                T.subnet,
                T.igw,
                T.nat,
                T.route,
                T.routeTable,
                T.routeTableAssociation,
                T.defaultRouteTable,
                T.dhcp,
                T.dhcpAssociation,
                T.defaultSg,
            ]) {
                assert.equal(ofType(name, type).length, 0, `${name}: no ${type}`);
            }
            assert.equal(ofType(name, T.eip).length, 1, `${name}: only the bastion EIP`);
        }
    });

    it("tags the given subnets for CCM/LBC, one Tag per key", () => {
        const subnetTags = ofType("byo", T.tag).filter((t) => input(t, "resourceId") !== single("byo", T.sg, "worker-sg").id);
        const seen = subnetTags.map((t) => `${input<string>(t, "resourceId")} ${input<string>(t, "key")}=${input<string>(t, "value")}`).sort();
        assert.deepEqual(
            seen,
            [
                `${EXISTING.privateSubnetId} kubernetes.io/cluster/byo=shared`,
                `${EXISTING.privateSubnetId} kubernetes.io/role/internal-elb=1`,
                `${EXISTING.publicSubnetId} kubernetes.io/cluster/byo=shared`,
                `${EXISTING.publicSubnetId} kubernetes.io/role/elb=1`,
            ].sort(),
        );
    });

    it("creates the missing SGs in the given VPC", () => {
        for (const suffix of ["bastion-sg", "k8s-sg", "control-plane-sg", "worker-sg"]) {
            assert.equal(input(single("byo", T.sg, suffix), "vpcId"), EXISTING.vpcId);
        }
    });

    it("uses the given SGs as they are and still tags the Kubernetes SG", () => {
        assert.equal(ofType("byosg", T.sg).length, 0);
        assert.equal(ofType("byosg", T.sgRule).length, 0);
        const tag = single("byosg", T.tag, "k8s-sg-cluster-tag");
        assert.equal(input(tag, "resourceId"), "sg-0cccccccccccccccc");
        assert.equal(input(tag, "key"), "kubernetes.io/cluster/byosg");
        assert.deepEqual(input(single("byosg", T.instance, "bastion"), "vpcSecurityGroupIds"), ["sg-0dddddddddddddddd"]);
        assert.deepEqual(input(single("byosg", T.lb, "api-lb"), "securityGroups"), ["sg-0cccccccccccccccc"]);
        // The user's one group serves the load balancer and every node.
        const net = networks.byosg;
        return Promise.all([net.controlPlaneSecurityGroupId, net.apiLoadBalancerSecurityGroupId, net.clusterSecurityGroupId].map(valueOf)).then((ids) =>
            assert.deepEqual(ids, ["sg-0cccccccccccccccc", "sg-0cccccccccccccccc", "sg-0cccccccccccccccc"]),
        );
    });

    it("still creates the NLB and the bastion in the given subnets", () => {
        const lb = single("byo", T.lb, "api-lb");
        assert.equal(input(lb, "internal"), false);
        assert.deepEqual(input(lb, "subnets"), [EXISTING.publicSubnetId]);
        assert.deepEqual(input(single("byosg", T.lb, "api-lb"), "subnets"), [EXISTING.privateSubnetId]);
        const bastion = single("byo", T.instance, "bastion");
        assert.equal(input(bastion, "subnetId"), EXISTING.publicSubnetId);
        assert.equal(input(single("byo", T.eip, "bastion-eip"), "instance"), bastion.id);
    });

    it("returns the given ids and no NAT gateway", async () => {
        const net = networks.byosg;
        assert.equal(await valueOf(net.vpcId), EXISTING.vpcId);
        assert.equal(await valueOf(net.publicSubnetId), EXISTING.publicSubnetId);
        assert.equal(await valueOf(net.privateSubnetId), EXISTING.privateSubnetId);
        assert.equal(await valueOf(net.clusterSecurityGroupId), "sg-0cccccccccccccccc");
        assert.equal(await valueOf(net.bastionSecurityGroupId), "sg-0dddddddddddddddd");
        assert.equal(net.natGatewayId, undefined);
    });
});

describe("helpers", () => {
    it("apiLoadBalancerName keeps the suffix and stays a valid ELB name", () => {
        assert.equal(mod.apiLoadBalancerName("dev", "a1b2c3"), "dev-eksd-masters-a1b2c3");
        for (const env of ["a", "abcdefghijklmn", "abcdefghijklmnopqrst", "abcdefghijklmnopqr-t"]) {
            const name = mod.apiLoadBalancerName(env, "a1b2c3");
            assert.ok(name.length <= 32, name);
            assert.match(name, /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/);
            assert.ok(!name.includes("--"), name);
            assert.ok(name.endsWith("-a1b2c3"), name);
        }
    });

    it("loadBalancerIdFromArn takes the last ARN segment", () => {
        assert.equal(
            mod.loadBalancerIdFromArn("arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/net/dev-eksd-masters-a1b2c3/50dc6c495c0c9188"),
            "50dc6c495c0c9188",
        );
    });
});
