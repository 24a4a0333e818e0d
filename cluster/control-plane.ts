// Control-plane nodes and their place behind the API load balancer. Standalone instances are
// the default: an auto scaling group may replace a master before it has joined etcd. The ASG
// mode keeps min = max = desired so that nothing ever scales the control plane.
import * as aws from "@pulumi/aws";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { clusterTagKey, resourceTags, Tags } from "../infra/tags";
import { API_PORT } from "./api-endpoint";
import { nodeConnection, NodeSshArgs } from "./kubeconfig";
import type { ControlPlaneNodeBoot } from "./node-bootstrap";

export type ControlPlaneMode = "standalone" | "asg";

/** Instance metadata: session tokens required, one hop (no pod can reach it through NAT). */
export function metadataOptions(requireMetadataTokens: boolean): aws.types.input.ec2.InstanceMetadataOptions | undefined {
    return requireMetadataTokens ? { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 } : undefined;
}

export interface ControlPlaneArgs {
    environment: string;
    tags: Tags;
    provider: aws.Provider;
    parent: pulumi.Resource;
    vpcId: pulumi.Input<string>;
    privateSubnetId: pulumi.Input<string>;
    clusterSecurityGroupId: pulumi.Input<string>;
    apiLoadBalancerArn: pulumi.Input<string>;
    count: number;
    mode: ControlPlaneMode;
    instanceType: string;
    volumeSize: number;
    amiId: string;
    instanceProfileName: pulumi.Input<string>;
    keyName: string;
    nameSuffix: pulumi.Input<string>;
    /** User data and bootstrap command of each node. */
    boot: ControlPlaneNodeBoot;
    /** SSH to the nodes through the bastion (host filled in per node). */
    nodeSsh: Omit<NodeSshArgs, "host">;
    requireMetadataTokens: boolean;
    /** IAM resources the nodes need before they boot. */
    dependsOn: pulumi.Resource[];
}

/** The node that runs `kubeadm init` and publishes the kubeconfig. */
export interface FirstControlPlaneNode {
    id: pulumi.Output<string>;
    privateIp: pulumi.Output<string>;
}

export const CONTROL_PLANE_COOLDOWN_SECONDS = 180;

export function standaloneNodeName(environment: string, index: number): string {
    return `${environment}-master-sa-${index + 1}`;
}

export function controlPlaneAsgName(environment: string): string {
    return `${environment}-master`;
}

/** Tags of control-plane instances (the reference's set). */
export function controlPlaneTags(environment: string, name: string, extra: Tags): Tags {
    return {
        ...resourceTags(environment, name, extra),
        "kubernetes.io/role": "master",
        [clusterTagKey(environment)]: "owned",
        [environment]: "control",
    };
}

/** The API target group: TCP 6443, TCP health check every 10 s, thresholds 2/2. */
export function apiTargetGroupArgs(environment: string, vpcId: pulumi.Input<string>, nameSuffix: pulumi.Input<string>, tags: Tags): aws.lb.TargetGroupArgs {
    return {
        // At most 32 characters: environment (<= 20) + "-api-" + 6.
        name: pulumi.interpolate`${environment}-api-${nameSuffix}`,
        port: API_PORT,
        protocol: "TCP",
        targetType: "instance",
        vpcId,
        healthCheck: {
            protocol: "TCP",
            port: "traffic-port",
            interval: 10,
            healthyThreshold: 2,
            unhealthyThreshold: 2,
        },
        tags: resourceTags(environment, `${environment}-api`, tags),
    };
}

/**
 * Standalone masters never follow user-data, AMI or instance-type changes on their own: Pulumi
 * would replace (or stop and start) every master at once and etcd would lose quorum. Roll them
 * one at a time on purpose (pulumi up --replace <urn>, see the runbook).
 */
export function standaloneInstanceOptions(base: pulumi.CustomResourceOptions): pulumi.CustomResourceOptions {
    return { ...base, ignoreChanges: ["userData", "userDataBase64", "ami", "instanceType"] };
}

export class ControlPlane {
    readonly instances: aws.ec2.Instance[] = [];
    readonly asg?: aws.autoscaling.Group;
    readonly targetGroup: aws.lb.TargetGroup;
    readonly listener: aws.lb.Listener;
    readonly attachments: aws.lb.TargetGroupAttachment[] = [];
    /** `<node>-bootstrap`, one per node, each after the previous one. */
    readonly bootstrapCommands: command.remote.Command[] = [];
    readonly instanceIds: pulumi.Output<string[]>;
    readonly privateIps: pulumi.Output<string[]>;
    readonly firstNode: FirstControlPlaneNode;

    private readonly opts: pulumi.CustomResourceOptions;

    constructor(private readonly args: ControlPlaneArgs) {
        this.opts = { provider: args.provider, parent: args.parent };
        const env = args.environment;

        this.targetGroup = new aws.lb.TargetGroup(`${env}-api`,
            apiTargetGroupArgs(env, args.vpcId, args.nameSuffix, args.tags), this.opts);

        if (args.mode === "standalone") {
            for (let index = 0; index < args.count; index++) {
                this.addStandaloneNode(index);
            }
            this.instanceIds = pulumi.all(this.instances.map((instance) => instance.id));
            this.privateIps = pulumi.all(this.instances.map((instance) => instance.privateIp));
            this.firstNode = { id: this.instances[0].id, privateIp: this.instances[0].privateIp };
        } else {
            throw new Error(`controlPlaneMode "${args.mode}" is not supported: only standalone control-plane nodes receive their secrets from the program`);
        }

        this.listener = new aws.lb.Listener(`${env}-api`, {
            loadBalancerArn: args.apiLoadBalancerArn,
            port: API_PORT,
            protocol: "TCP",
            defaultActions: [{ type: "forward", targetGroupArn: this.targetGroup.arn }],
        }, this.opts);
    }

    /** Everything the kubeconfig must wait for. */
    get resources(): pulumi.Resource[] {
        return [...this.instances, ...(this.asg ? [this.asg] : []), this.targetGroup, ...this.attachments, this.listener, ...this.bootstrapCommands];
    }

    private addStandaloneNode(index: number): void {
        const env = this.args.environment;
        const name = standaloneNodeName(env, index);
        const instance = new aws.ec2.Instance(name, {
            ami: this.args.amiId,
            instanceType: this.args.instanceType,
            subnetId: this.args.privateSubnetId,
            vpcSecurityGroupIds: [this.args.clusterSecurityGroupId],
            keyName: this.args.keyName,
            iamInstanceProfile: this.args.instanceProfileName,
            userDataBase64: this.args.boot.userData(name),
            metadataOptions: metadataOptions(this.args.requireMetadataTokens),
            // zCompute: no encryption, volume type left to the cloud default; no volume tags.
            rootBlockDevice: { volumeSize: this.args.volumeSize, deleteOnTermination: true, encrypted: false },
            tags: controlPlaneTags(env, name, this.args.tags),
        }, standaloneInstanceOptions({ ...this.opts, dependsOn: [...this.args.dependsOn, ...this.args.boot.dependsOn] }));
        this.instances.push(instance);

        // The secrets reach the node only here (stdin, a Pulumi secret). Node 0 initialises;
        // every later node joins after the previous one is up, one at a time.
        const bootstrap = this.args.boot.bootstrapCommand({ nodeName: name, mode: index === 0 ? "init" : "join" });
        const previous = this.bootstrapCommands[this.bootstrapCommands.length - 1];
        this.bootstrapCommands.push(new command.remote.Command(`${name}-bootstrap`, {
            connection: nodeConnection({ ...this.args.nodeSsh, host: instance.privateIp }),
            create: bootstrap.create,
            stdin: bootstrap.stdin,
            triggers: [instance.id],
            // Progress and the failure report (stderr) show in `pulumi up`.
            logging: "stdoutAndStderr",
            addPreviousOutputInEnv: false,
        }, { parent: this.args.parent, dependsOn: [instance, ...(previous ? [previous] : [])] }));

        this.attachments.push(new aws.lb.TargetGroupAttachment(`${name}-api`, {
            targetGroupArn: this.targetGroup.arn,
            targetId: instance.id,
            port: API_PORT,
        }, this.opts));
    }
}

/** Numeric IPv4 order, as `sort -t . -k1,1n -k2,2n -k3,3n -k4,4n` in the boot scripts. */
export function compareIpv4(a: string, b: string): number {
    const left = a.split(".").map(Number);
    const right = b.split(".").map(Number);
    for (let i = 0; i < 4; i++) {
        if (left[i] !== right[i]) {
            return left[i] - right[i];
        }
    }
    return 0;
}
