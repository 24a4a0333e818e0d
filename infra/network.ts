// The network of one environment on zCompute: VPC, subnets, NAT, security groups, the
// Kubernetes API load balancer and the bastion. Mirrors the reference deployment's
// infra-terraform project, with zCompute's API quirks handled here:
// - security groups and EIPs are created without tags (CreateSecurityGroup rejects tags,
//   EIP tags are dropped); the one tag an SG needs is added afterwards with aws.ec2.Tag;
// - every other resource is tagged explicitly (provider default tags break RunInstances);
// - no IMDSv2, EBS encryption, NLB deletion protection, access logs or cross-zone settings.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as YAML from "yaml";
import { API_PORT, BUNDLE_PORT } from "../model/constants";
import { clusterTagKey, resourceTags, Tags } from "./tags";

export interface BastionArgs {
    amiId: string;
    instanceType: string;
    keyName: string;
    /** Who may SSH to the bastion; an empty list means no SSH rule. */
    sshCidrs: string[];
}

/** Ids of an existing VPC to build into (bring-your-own mode). */
export interface ExistingVpcConfig {
    vpcId: string;
    publicSubnetId: string;
    privateSubnetId: string;
    clusterSecurityGroupId?: string;
    bastionSecurityGroupId?: string;
}

/** The network's shape, as the stack configuration describes it. */
export interface NetworkLayout {
    vpcCidr: string;
    publicSubnetCidr: string;
    privateSubnetCidr: string;
    dnsServers: string[];
    dnsDomain: string;
    /** Bring your own VPC: nothing of the VPC itself is created when set. */
    existingVpc?: ExistingVpcConfig;
    /** Internet-facing API NLB in the public subnet, or internal in the private subnet. */
    apiPublic: boolean;
    /** Who may reach 6443 (internet clients of a public API; VPC/VPN clients of an internal one). */
    apiAllowedCidrs: string[];
}

export interface ZadaraNetworkArgs extends NetworkLayout {
    /** The AWS provider pointed at the zCompute cloud; every AWS child resource uses it. */
    provider: aws.Provider;
    environment: string;
    /** The user's extra tags, added to every taggable resource. */
    tags: Record<string, string>;
    bastion: BastionArgs;
    /** PEM of the cloud's root CA, trusted on the bastion through cloud-init. */
    rootCaCert?: string;
}

/** Everything 0.0.0.0/0, the "all traffic" protocol and the ports the rules use. */
const ANYWHERE = "0.0.0.0/0";
const ALL_PROTOCOLS = "-1";
const SSH_PORT = 22;
// The API and bundle ports are plain constants (model/constants.ts): the config check sizes
// user data with them before any resource exists.
export { API_PORT, BUNDLE_PORT };
export const BUNDLE_SERVER_DIR = "/var/lib/zadara-eksd/bundles";
export const BUNDLE_SERVER_UNIT = "zadara-eksd-bundles.service";
/**
 * What workers may send to control-plane nodes besides the API: the CNIs' node-to-node
 * transport (flannel and cilium VXLAN, calico IPIP, BGP and typha, cilium health and hubble).
 * Nothing else: etcd (2379/2380), kube-controller-manager (10257), kube-scheduler (10259) and
 * the control plane's kubelet (10250) are not reachable from workers or their pods.
 */
export const CNI_TRANSPORT: ReadonlyArray<{ name: string; protocol: string; port: number; description: string }> = [
    { name: "vxlan", protocol: "udp", port: 8472, description: "VXLAN overlay (flannel, cilium) from workers" },
    { name: "ipip", protocol: "4", port: 0, description: "IP-in-IP overlay (calico) from workers" },
    { name: "bgp", protocol: "tcp", port: 179, description: "BGP (calico) from workers" },
    { name: "typha", protocol: "tcp", port: 5473, description: "calico typha from workers" },
    { name: "cilium-health", protocol: "tcp", port: 4240, description: "cilium health checks from workers" },
    { name: "hubble", protocol: "tcp", port: 4244, description: "hubble peer service from workers" },
];
/** ELBv2 names are at most 32 characters. */
const MAX_LB_NAME_LENGTH = 32;
/** Bytes of the API NLB name suffix (6 hex characters). */
const LB_SUFFIX_BYTES = 3;

/**
 * The API NLB's name: `<env>-eksd-masters-<suffix>`, cut to 32 characters. The suffix is
 * random because zCompute keeps a deleted load balancer's name reserved for minutes.
 */
export function apiLoadBalancerName(environment: string, suffix: string): string {
    const tail = `-${suffix}`;
    const base = `${environment}-eksd-masters`.slice(0, MAX_LB_NAME_LENGTH - tail.length).replace(/-+$/, "");
    return `${base}${tail}`;
}

/** The last segment of a load balancer ARN, e.g. `50dc6c495c0c9188`. */
export function loadBalancerIdFromArn(arn: string): string {
    const segments = arn.split("/");
    return segments[segments.length - 1];
}

/**
 * The bastion's cloud-config: the boot-bundle server (a systemd unit running python3's
 * http.server on BUNDLE_SERVER_DIR; an empty index.html keeps it from listing the directory).
 * The cloud's root CA is NOT here: a root CA bundle may be any size, and user data is limited;
 * the cluster's bundle publish command installs it from the boot bundle.
 */
export function bastionCloudConfig(): string {
    const unit = [
        "[Unit]",
        "Description=zadara-eksd boot bundles for the cluster nodes",
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        `ExecStart=/usr/bin/python3 -m http.server ${BUNDLE_PORT} --directory ${BUNDLE_SERVER_DIR}`,
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "NoNewPrivileges=yes",
        "Restart=always",
        "RestartSec=2",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ].join("\n");
    const config: Record<string, unknown> = {};
    config.write_files = [
        { path: `/etc/systemd/system/${BUNDLE_SERVER_UNIT}`, content: unit, permissions: "0644", owner: "root:root" },
        { path: `${BUNDLE_SERVER_DIR}/index.html`, content: "", permissions: "0644", owner: "root:root" },
    ];
    config.runcmd = [
        ["systemctl", "daemon-reload"],
        ["systemctl", "enable", "--now", BUNDLE_SERVER_UNIT],
    ];
    return `#cloud-config\n${YAML.stringify(config, { lineWidth: 0 })}`;
}

interface CreatedVpc {
    vpc: aws.ec2.Vpc;
    internetGateway: aws.ec2.InternetGateway;
}

interface SubnetIds {
    publicSubnetId: pulumi.Output<string>;
    privateSubnetId: pulumi.Output<string>;
    natGatewayId?: pulumi.Output<string>;
    /** What must exist before anything in the public subnet can reach the internet. */
    internetReady: pulumi.Resource[];
}

interface SecurityGroupIds {
    apiLoadBalancer: pulumi.Output<string>;
    controlPlane: pulumi.Output<string>;
    worker: pulumi.Output<string>;
    bastion: pulumi.Output<string>;
}

interface Bastion {
    instance: aws.ec2.Instance;
    eip: aws.ec2.Eip;
}

export class ZadaraNetwork extends pulumi.ComponentResource {
    public readonly vpcId: pulumi.Output<string>;
    public readonly publicSubnetId: pulumi.Output<string>;
    public readonly privateSubnetId: pulumi.Output<string>;
    /** The nodes' group that carries the cluster tag (CCM and LBC add their rules here): the workers'. */
    public readonly clusterSecurityGroupId: pulumi.Output<string>;
    public readonly controlPlaneSecurityGroupId: pulumi.Output<string>;
    public readonly apiLoadBalancerSecurityGroupId: pulumi.Output<string>;
    public readonly bastionSecurityGroupId: pulumi.Output<string>;
    public readonly apiLoadBalancerArn: pulumi.Output<string>;
    /** Last segment of the NLB's ARN. */
    public readonly apiLoadBalancerId: pulumi.Output<string>;
    public readonly apiLoadBalancerDnsName: pulumi.Output<string>;
    /** The NLB's name inside the VPC: `elb-<id>.<dnsDomain>`. */
    public readonly apiInternalDnsName: pulumi.Output<string>;
    /** The bastion's EIP. */
    public readonly bastionPublicIp: pulumi.Output<string>;
    public readonly bastionPrivateIp: pulumi.Output<string>;
    /** The bastion instance (the cluster reads its SSH host key from its console). */
    public readonly bastionInstanceId: pulumi.Output<string>;
    /**
     * Boot bundles reach the nodes through the API load balancer's port BUNDLE_PORT (forwarded
     * to the bastion): its target group, kept by the destroy cleanup.
     */
    public readonly bundleTargetGroupArn: pulumi.Output<string>;
    /** Undefined when the VPC is brought by the user. */
    public readonly natGatewayId: pulumi.Output<string> | undefined;

    private readonly baseName: string;
    private readonly args: ZadaraNetworkArgs;

    constructor(name: string, args: ZadaraNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
        super("zadara:eksd:ZadaraNetwork", name, {}, opts);
        this.baseName = name;
        this.args = args;

        let subnets: SubnetIds;
        let groups: SecurityGroupIds;
        if (args.existingVpc) {
            const existing = args.existingVpc;
            this.vpcId = pulumi.output(existing.vpcId);
            subnets = this.tagExistingSubnets(existing);
            groups = this.createSecurityGroups(this.vpcId, existing);
        } else {
            const created = this.createVpc();
            this.vpcId = created.vpc.id;
            subnets = this.createSubnets(created);
            groups = this.createSecurityGroups(this.vpcId, undefined, created.vpc);
        }
        this.publicSubnetId = subnets.publicSubnetId;
        this.privateSubnetId = subnets.privateSubnetId;
        this.natGatewayId = subnets.natGatewayId;
        this.clusterSecurityGroupId = groups.worker;
        this.controlPlaneSecurityGroupId = groups.controlPlane;
        this.apiLoadBalancerSecurityGroupId = groups.apiLoadBalancer;
        this.bastionSecurityGroupId = groups.bastion;

        const loadBalancer = this.createApiLoadBalancer(subnets, groups.apiLoadBalancer);
        this.apiLoadBalancerArn = loadBalancer.arn;
        this.apiLoadBalancerId = loadBalancer.arn.apply(loadBalancerIdFromArn);
        this.apiLoadBalancerDnsName = loadBalancer.dnsName;
        // zCompute's internal DNS names an NLB `elb-<lb id>.<DHCP domain>` inside the VPC.
        this.apiInternalDnsName = pulumi.interpolate`elb-${this.apiLoadBalancerId}.${args.dnsDomain}`;

        const bastion = this.createBastion(subnets, groups.bastion);
        this.bastionPublicIp = bastion.eip.publicIp;
        this.bastionPrivateIp = bastion.instance.privateIp;
        this.bastionInstanceId = bastion.instance.id;
        this.bundleTargetGroupArn = this.createBundlePath(loadBalancer, bastion.instance, groups);

        this.registerOutputs({
            vpcId: this.vpcId,
            publicSubnetId: this.publicSubnetId,
            privateSubnetId: this.privateSubnetId,
            clusterSecurityGroupId: this.clusterSecurityGroupId,
            controlPlaneSecurityGroupId: this.controlPlaneSecurityGroupId,
            apiLoadBalancerSecurityGroupId: this.apiLoadBalancerSecurityGroupId,
            bastionSecurityGroupId: this.bastionSecurityGroupId,
            apiLoadBalancerArn: this.apiLoadBalancerArn,
            apiLoadBalancerId: this.apiLoadBalancerId,
            apiLoadBalancerDnsName: this.apiLoadBalancerDnsName,
            apiInternalDnsName: this.apiInternalDnsName,
            bastionPublicIp: this.bastionPublicIp,
            bastionPrivateIp: this.bastionPrivateIp,
            bastionInstanceId: this.bastionInstanceId,
            bundleTargetGroupArn: this.bundleTargetGroupArn,
            natGatewayId: this.natGatewayId,
        });
    }

    /** VPC with DNS on, its DHCP options and the internet gateway. */
    private createVpc(): CreatedVpc {
        const env = this.args.environment;
        const vpc = new aws.ec2.Vpc(
            this.childName("vpc"),
            {
                cidrBlock: this.args.vpcCidr,
                enableDnsSupport: true,
                enableDnsHostnames: true,
                tags: this.tags(`${env}-vpc`),
            },
            this.awsOptions(),
        );

        const dhcpOptions = new aws.ec2.VpcDhcpOptions(
            this.childName("dhcp-options"),
            {
                domainNameServers: this.args.dnsServers,
                domainName: this.args.dnsDomain,
                tags: this.tags(`${env}-vpc-dhcp`),
            },
            this.awsOptions(),
        );
        new aws.ec2.VpcDhcpOptionsAssociation(
            this.childName("dhcp-options-association"),
            {
                vpcId: vpc.id,
                dhcpOptionsId: dhcpOptions.id,
            },
            this.awsOptions(),
        );

        const internetGateway = new aws.ec2.InternetGateway(
            this.childName("igw"),
            {
                vpcId: vpc.id,
                tags: this.tags(`${env}-vpc-igw`),
            },
            this.awsOptions(),
        );

        return { vpc, internetGateway };
    }

    /** Public subnet routed to the IGW, private subnet routed to a NAT gateway. */
    private createSubnets(created: CreatedVpc): SubnetIds {
        const env = this.args.environment;
        const { vpc, internetGateway } = created;
        const clusterTag = { [clusterTagKey(env)]: "shared" };

        const publicSubnet = new aws.ec2.Subnet(
            this.childName("public-subnet"),
            {
                vpcId: vpc.id,
                cidrBlock: this.args.publicSubnetCidr,
                tags: this.tags(`${env}-vpc-public`, { ...clusterTag, "kubernetes.io/role/elb": "1" }),
            },
            this.awsOptions(),
        );
        const privateSubnet = new aws.ec2.Subnet(
            this.childName("private-subnet"),
            {
                vpcId: vpc.id,
                cidrBlock: this.args.privateSubnetCidr,
                tags: this.tags(`${env}-vpc-private`, { ...clusterTag, "kubernetes.io/role/internal-elb": "1" }),
            },
            this.awsOptions(),
        );

        const publicRouteTable = new aws.ec2.RouteTable(
            this.childName("public-rt"),
            {
                vpcId: vpc.id,
                routes: [{ cidrBlock: ANYWHERE, gatewayId: internetGateway.id }],
                tags: this.tags(`${env}-vpc-public-rt`),
            },
            this.awsOptions(),
        );
        const publicAssociation = new aws.ec2.RouteTableAssociation(
            this.childName("public-rt-association"),
            {
                subnetId: publicSubnet.id,
                routeTableId: publicRouteTable.id,
            },
            this.awsOptions(),
        );
        const internetReady = [internetGateway, publicRouteTable, publicAssociation];

        // The NAT gateway's EIP carries no tags: zCompute drops them.
        const natEip = new aws.ec2.Eip(
            this.childName("nat-eip"),
            {
                vpc: true,
            },
            this.awsOptions({ dependsOn: [internetGateway] }),
        );
        // The reference sleeps a minute after creating the NAT because the public route may
        // not exist yet; depending on the IGW and the public route makes that ordering explicit.
        const natGateway = new aws.ec2.NatGateway(
            this.childName("nat"),
            {
                allocationId: natEip.id,
                subnetId: publicSubnet.id,
                tags: this.tags(`${env}-vpc-nat`),
            },
            this.awsOptions({ dependsOn: internetReady }),
        );

        // The private subnet stays on the VPC's default (main) route table, as in the reference.
        // DefaultRouteTable adopts that table: it owns its routes (a declarative 0.0.0.0/0 -> NAT,
        // stray routes removed) and, unlike a lone aws.ec2.Route, can tag it. On destroy it only
        // forgets the table, which disappears with the VPC.
        new aws.ec2.DefaultRouteTable(
            this.childName("private-rt"),
            {
                defaultRouteTableId: vpc.defaultRouteTableId,
                routes: [{ cidrBlock: ANYWHERE, natGatewayId: natGateway.id }],
                tags: this.tags(`${env}-vpc-private-rt`),
            },
            this.awsOptions(),
        );

        return {
            publicSubnetId: publicSubnet.id,
            privateSubnetId: privateSubnet.id,
            natGatewayId: natGateway.id,
            internetReady,
        };
    }

    /** Bring-your-own VPC: only the CCM/LBC discovery tags are added to the given subnets. */
    private tagExistingSubnets(existing: ExistingVpcConfig): SubnetIds {
        const clusterKey = clusterTagKey(this.args.environment);
        const subnetTags: Array<[string, string, string, string]> = [
            ["public-subnet-cluster-tag", existing.publicSubnetId, clusterKey, "shared"],
            ["public-subnet-elb-tag", existing.publicSubnetId, "kubernetes.io/role/elb", "1"],
            ["private-subnet-cluster-tag", existing.privateSubnetId, clusterKey, "shared"],
            ["private-subnet-internal-elb-tag", existing.privateSubnetId, "kubernetes.io/role/internal-elb", "1"],
        ];
        for (const [suffix, subnetId, key, value] of subnetTags) {
            new aws.ec2.Tag(this.childName(suffix), { resourceId: subnetId, key, value }, this.awsOptions());
        }
        return {
            publicSubnetId: pulumi.output(existing.publicSubnetId),
            privateSubnetId: pulumi.output(existing.privateSubnetId),
            natGatewayId: undefined,
            internetReady: [],
        };
    }

    /**
     * Default SG (created VPC only), bastion SG and one group each for the API load balancer,
     * the control plane and the workers. Rules are separate SecurityGroupRule resources (never
     * inline, so the two styles cannot fight over the same group); SGs the user brings are used
     * as they are (one cluster group for the load balancer and every node).
     */
    private createSecurityGroups(vpcId: pulumi.Output<string>, existing?: ExistingVpcConfig, createdVpc?: aws.ec2.Vpc): SecurityGroupIds {
        const env = this.args.environment;

        if (createdVpc) {
            // All traffic to and from itself only, as in the reference. The default SG is
            // adopted, so its rules can only be inline.
            new aws.ec2.DefaultSecurityGroup(
                this.childName("default-sg"),
                {
                    vpcId: createdVpc.id,
                    ingress: [{ protocol: ALL_PROTOCOLS, fromPort: 0, toPort: 0, self: true, description: "All traffic from itself" }],
                    egress: [{ protocol: ALL_PROTOCOLS, fromPort: 0, toPort: 0, self: true, description: "All traffic to itself" }],
                },
                this.awsOptions(),
            );
        }

        let bastionSecurityGroupId: pulumi.Output<string>;
        if (existing?.bastionSecurityGroupId) {
            bastionSecurityGroupId = pulumi.output(existing.bastionSecurityGroupId);
        } else {
            const bastionGroup = this.securityGroup("bastion-sg", `${env}-bastion-sg`, "Bastion: SSH in, all out", vpcId, false);
            bastionSecurityGroupId = bastionGroup.id;
            if (this.args.bastion.sshCidrs.length > 0) {
                this.rule("bastion-sg-ssh-in", bastionSecurityGroupId, "ingress", "tcp", SSH_PORT, {
                    cidrBlocks: this.args.bastion.sshCidrs,
                    description: "SSH from the allowed CIDRs",
                });
            }
            this.rule("bastion-sg-all-out", bastionSecurityGroupId, "egress", ALL_PROTOCOLS, 0, { cidrBlocks: [ANYWHERE], description: "All traffic out" });
        }

        if (existing?.clusterSecurityGroupId) {
            // The user's one group serves the load balancer and every node, as they set it up.
            const id = pulumi.output(existing.clusterSecurityGroupId);
            this.clusterTag(id);
            return { apiLoadBalancer: id, controlPlane: id, worker: id, bastion: bastionSecurityGroupId };
        }
        const groups = {
            // The NLB keeps the group it was created with (k8s-sg, name and description kept):
            // changing an NLB's groups replaces it, and with it the API address every node and
            // kubeconfig uses.
            apiLoadBalancer: this.securityGroup("k8s-sg", `${env}-k8s-sg`, "Kubernetes nodes and API load balancer", vpcId, true).id,
            controlPlane: this.securityGroup(
                "control-plane-sg",
                `${env}-control-plane-sg`,
                "Kubernetes control plane: etcd and controllers among themselves",
                vpcId,
                true,
            ).id,
            // The load balancer controller and the CCM add rules to this group (it carries the
            // cluster tag); revoking them on delete lets destroy remove it.
            worker: this.securityGroup("worker-sg", `${env}-worker-sg`, "Kubernetes workers", vpcId, true).id,
            bastion: bastionSecurityGroupId,
        };
        this.apiLoadBalancerRules(groups);
        this.controlPlaneRules(groups);
        this.workerRules(groups);

        if (!existing?.bastionSecurityGroupId) {
            // Nodes fetch their boot bundle from the bastion (a bastion SG brought by the user
            // needs the same rules; see docs).
            this.rule("bastion-sg-bundles-from-control-plane", bastionSecurityGroupId, "ingress", "tcp", BUNDLE_PORT, {
                sourceSecurityGroupId: groups.controlPlane,
                description: "Boot bundles for the control-plane nodes",
            });
            this.rule("bastion-sg-bundles-from-workers", bastionSecurityGroupId, "ingress", "tcp", BUNDLE_PORT, {
                sourceSecurityGroupId: groups.worker,
                description: "Boot bundles for the workers",
            });
        }

        // The workers' group, never the control plane's: neither controller nor the tag-scoped
        // IAM (cluster/iam-scoping.ts) can then open the control plane.
        this.clusterTag(groups.worker);
        return groups;
    }

    /**
     * CCM and LBC find the nodes' SG by the cluster tag (one group of an instance may carry it).
     * zCompute only accepts the tag after creation.
     */
    private clusterTag(securityGroupId: pulumi.Output<string>): void {
        new aws.ec2.Tag(
            this.childName("k8s-sg-cluster-tag"),
            {
                resourceId: securityGroupId,
                key: clusterTagKey(this.args.environment),
                value: "shared",
            },
            this.awsOptions(),
        );
    }

    /** The API load balancer: 6443 from the allowed CIDRs, the nodes and (internal API) the bastion. */
    private apiLoadBalancerRules(groups: SecurityGroupIds): void {
        // Public API: from the internet CIDRs given. Internal API: the NLB only has a private
        // address, so the same list admits in-VPC or VPN clients (e.g. a self-hosted agent).
        if (this.args.apiAllowedCidrs.length > 0) {
            this.rule("k8s-sg-api-in", groups.apiLoadBalancer, "ingress", "tcp", API_PORT, {
                cidrBlocks: this.args.apiAllowedCidrs,
                description: "Kubernetes API from the allowed CIDRs",
            });
        }
        // kubeadm's control-plane endpoint is the NLB's private address: every node calls it.
        this.rule("k8s-sg-api-from-control-plane", groups.apiLoadBalancer, "ingress", "tcp", API_PORT, {
            sourceSecurityGroupId: groups.controlPlane,
            description: "Kubernetes API from the control-plane nodes",
        });
        this.rule("k8s-sg-api-from-workers", groups.apiLoadBalancer, "ingress", "tcp", API_PORT, {
            sourceSecurityGroupId: groups.worker,
            description: "Kubernetes API from the workers",
        });
        if (!this.args.apiPublic) {
            // Internal API: the bastion is the way in from outside (SSH tunnel); an SG reference
            // works in bring-your-own mode too, where the VPC's CIDR is not known without a lookup.
            this.rule("k8s-sg-api-from-bastion", groups.apiLoadBalancer, "ingress", "tcp", API_PORT, {
                sourceSecurityGroupId: groups.bastion,
                description: "Kubernetes API from the bastion",
            });
        }
        this.rule("k8s-sg-all-out", groups.apiLoadBalancer, "egress", ALL_PROTOCOLS, 0, { cidrBlocks: [ANYWHERE], description: "All traffic out" });
    }

    /**
     * The control plane: everything among its own nodes (etcd 2379/2380, 10250, 10257, 10259
     * stay there); from workers only the API and the CNI's node-to-node transport; the API also
     * from the load balancer and, as the NLB keeps client addresses, from the allowed CIDRs.
     */
    private controlPlaneRules(groups: SecurityGroupIds): void {
        this.rule("control-plane-sg-self-in", groups.controlPlane, "ingress", ALL_PROTOCOLS, 0, {
            self: true,
            description: "All traffic between control-plane nodes (etcd peers and clients among others)",
        });
        this.rule("control-plane-sg-ssh-from-bastion", groups.controlPlane, "ingress", "tcp", SSH_PORT, {
            sourceSecurityGroupId: groups.bastion,
            description: "SSH from the bastion",
        });
        this.rule("control-plane-sg-api-from-lb", groups.controlPlane, "ingress", "tcp", API_PORT, {
            sourceSecurityGroupId: groups.apiLoadBalancer,
            description: "Kubernetes API through the load balancer",
        });
        this.rule("control-plane-sg-api-from-workers", groups.controlPlane, "ingress", "tcp", API_PORT, {
            sourceSecurityGroupId: groups.worker,
            description: "Kubernetes API from workers (kubernetes Service endpoints)",
        });
        if (this.args.apiAllowedCidrs.length > 0) {
            this.rule("control-plane-sg-api-in", groups.controlPlane, "ingress", "tcp", API_PORT, {
                cidrBlocks: this.args.apiAllowedCidrs,
                description: "Kubernetes API from the allowed CIDRs (the NLB keeps client addresses)",
            });
        }
        if (!this.args.apiPublic) {
            this.rule("control-plane-sg-api-from-bastion", groups.controlPlane, "ingress", "tcp", API_PORT, {
                sourceSecurityGroupId: groups.bastion,
                description: "Kubernetes API from the bastion",
            });
        }
        for (const transport of CNI_TRANSPORT) {
            this.rule(`control-plane-sg-${transport.name}-from-workers`, groups.controlPlane, "ingress", transport.protocol, transport.port, {
                sourceSecurityGroupId: groups.worker,
                description: transport.description,
            });
        }
        this.rule("control-plane-sg-all-out", groups.controlPlane, "egress", ALL_PROTOCOLS, 0, { cidrBlocks: [ANYWHERE], description: "All traffic out" });
    }

    /** Workers: everything among themselves and from the control plane (kubelet 10250, webhooks, CNI). */
    private workerRules(groups: SecurityGroupIds): void {
        this.rule("worker-sg-self-in", groups.worker, "ingress", ALL_PROTOCOLS, 0, { self: true, description: "All traffic between workers" });
        this.rule("worker-sg-from-control-plane", groups.worker, "ingress", ALL_PROTOCOLS, 0, {
            sourceSecurityGroupId: groups.controlPlane,
            description: "All traffic from the control plane (kubelet, webhooks, CNI)",
        });
        this.rule("worker-sg-ssh-from-bastion", groups.worker, "ingress", "tcp", SSH_PORT, {
            sourceSecurityGroupId: groups.bastion,
            description: "SSH from the bastion",
        });
        this.rule("worker-sg-all-out", groups.worker, "egress", ALL_PROTOCOLS, 0, { cidrBlocks: [ANYWHERE], description: "All traffic out" });
    }

    /** The Kubernetes API NLB; its listener and target groups belong to the cluster component. */
    private createApiLoadBalancer(subnets: SubnetIds, clusterSecurityGroupId: pulumi.Output<string>): aws.lb.LoadBalancer {
        const env = this.args.environment;
        const internal = !this.args.apiPublic;
        const subnetId = internal ? subnets.privateSubnetId : subnets.publicSubnetId;

        // A new suffix whenever the NLB would be replaced (environment, scheme, subnet), so
        // the replacement never asks for a name zCompute still holds.
        const suffix = new random.RandomId(
            this.childName("api-lb-suffix"),
            {
                byteLength: LB_SUFFIX_BYTES,
                keepers: { environment: env, internal: String(internal), subnetId },
            },
            { parent: this },
        );

        // securityGroups: TF AWS 3.44 sends them for any LB type (its "application only" note
        // is documentation, not validation), and zCompute applies the K8s SG to the NLB as in
        // the reference.
        return new aws.lb.LoadBalancer(
            this.childName("api-lb"),
            {
                name: suffix.hex.apply((hex) => apiLoadBalancerName(env, hex)),
                loadBalancerType: "network",
                internal,
                subnets: [subnetId],
                securityGroups: [clusterSecurityGroupId],
                tags: this.tags(`${env}-eksd-masters`),
            },
            this.awsOptions(),
        );
    }

    /** Bastion in the public subnet with an EIP; serves boot bundles; trusts the cloud's root CA when given. */
    private createBastion(subnets: SubnetIds, bastionSecurityGroupId: pulumi.Output<string>): Bastion {
        const env = this.args.environment;
        const bastion = this.args.bastion;

        // No metadataOptions (zCompute has no IMDSv2) and no root volume encryption.
        const instance = new aws.ec2.Instance(
            this.childName("bastion"),
            {
                ami: bastion.amiId,
                instanceType: bastion.instanceType,
                subnetId: subnets.publicSubnetId,
                vpcSecurityGroupIds: [bastionSecurityGroupId],
                keyName: bastion.keyName,
                userData: bastionCloudConfig(),
                tags: this.tags(`${env}-bastion`),
            },
            this.awsOptions({ dependsOn: subnets.internetReady }),
        );

        // No tags: zCompute drops EIP tags. Associating needs the IGW attached.
        const eip = new aws.ec2.Eip(
            this.childName("bastion-eip"),
            {
                vpc: true,
                instance: instance.id,
            },
            this.awsOptions({ dependsOn: subnets.internetReady }),
        );

        return { instance, eip };
    }

    /**
     * The bundle path: the API NLB forwards BUNDLE_PORT to the bastion. Nodes name the NLB's
     * private address (already in their user data as the API endpoint, and stable for the
     * cluster's life), so a replaced bastion changes this target, not any user data: patching
     * or replacing the bastion no longer rolls the control plane or the workers.
     */
    private createBundlePath(loadBalancer: aws.lb.LoadBalancer, bastion: aws.ec2.Instance, groups: SecurityGroupIds): pulumi.Output<string> {
        const env = this.args.environment;
        // zCompute keeps a deleted target group's name for minutes: a random suffix per VPC.
        const suffix = new random.RandomId(
            this.childName("bundle-tg-suffix"),
            { byteLength: LB_SUFFIX_BYTES, keepers: { environment: env } },
            { parent: this },
        );
        const targetGroup = new aws.lb.TargetGroup(
            this.childName("bundle-tg"),
            {
                // At most 32 characters: environment (<= 20) + "-boot-" + 6.
                name: pulumi.interpolate`${env}-boot-${suffix.hex}`,
                port: BUNDLE_PORT,
                protocol: "TCP",
                targetType: "instance",
                vpcId: this.vpcId,
                healthCheck: { protocol: "TCP", port: "traffic-port", interval: 10, healthyThreshold: 2, unhealthyThreshold: 2 },
                tags: this.tags(`${env}-boot-bundles`),
            },
            this.awsOptions(),
        );
        new aws.lb.Listener(
            this.childName("bundle-listener"),
            {
                loadBalancerArn: loadBalancer.arn,
                port: BUNDLE_PORT,
                protocol: "TCP",
                defaultActions: [{ type: "forward", targetGroupArn: targetGroup.arn }],
            },
            this.awsOptions(),
        );
        new aws.lb.TargetGroupAttachment(
            this.childName("bundle-bastion"),
            { targetGroupArn: targetGroup.arn, targetId: bastion.id, port: BUNDLE_PORT },
            this.awsOptions(),
        );
        if (!this.args.existingVpc?.clusterSecurityGroupId) {
            // The load balancer admits the port from the nodes only (a user's one group: theirs).
            this.rule("k8s-sg-bundles-from-control-plane", groups.apiLoadBalancer, "ingress", "tcp", BUNDLE_PORT, {
                sourceSecurityGroupId: groups.controlPlane,
                description: "Boot bundles for the control-plane nodes",
            });
            this.rule("k8s-sg-bundles-from-workers", groups.apiLoadBalancer, "ingress", "tcp", BUNDLE_PORT, {
                sourceSecurityGroupId: groups.worker,
                description: "Boot bundles for the workers",
            });
        }
        if (!this.args.existingVpc?.bastionSecurityGroupId) {
            // The NLB keeps client addresses (the node rules on the bastion apply); a load
            // balancer that forwards from its own address is admitted by its group.
            this.rule("bastion-sg-bundles-from-lb", groups.bastion, "ingress", "tcp", BUNDLE_PORT, {
                sourceSecurityGroupId: groups.apiLoadBalancer,
                description: "Boot bundles through the API load balancer",
            });
        }
        return targetGroup.arn;
    }

    /** An untagged security group (CreateSecurityGroup on zCompute rejects tags). */
    private securityGroup(
        suffix: string,
        groupName: string,
        description: string,
        vpcId: pulumi.Output<string>,
        revokeRulesOnDelete: boolean,
    ): aws.ec2.SecurityGroup {
        return new aws.ec2.SecurityGroup(
            this.childName(suffix),
            {
                name: groupName,
                description,
                vpcId,
                revokeRulesOnDelete,
            },
            this.awsOptions({
                // Tags arrive later through aws.ec2.Tag; a refresh must not make us remove them.
                ignoreChanges: ["tags", "tagsAll"],
            }),
        );
    }

    /** One security group rule; port 0 with protocol -1 means all traffic. */
    private rule(
        suffix: string,
        securityGroupId: pulumi.Output<string>,
        type: "ingress" | "egress",
        protocol: string,
        port: number,
        source: { cidrBlocks?: string[]; self?: boolean; sourceSecurityGroupId?: pulumi.Output<string>; description: string },
    ): aws.ec2.SecurityGroupRule {
        return new aws.ec2.SecurityGroupRule(
            this.childName(suffix),
            {
                securityGroupId,
                type,
                protocol,
                fromPort: port,
                toPort: port,
                ...source,
            },
            this.awsOptions(),
        );
    }

    /** Children are named after the component so several networks can share a stack. */
    private childName(suffix: string): string {
        return `${this.baseName}-${suffix}`;
    }

    private tags(name: string, extra: Tags = {}): Tags {
        return { ...resourceTags(this.args.environment, name, this.args.tags), ...extra };
    }

    /** Every AWS child: the zCompute provider, explicitly, under this component. */
    private awsOptions(extra: pulumi.CustomResourceOptions = {}): pulumi.CustomResourceOptions {
        return { ...extra, provider: this.args.provider, parent: this };
    }
}
