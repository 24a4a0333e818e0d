// Worker node groups: one launch configuration + one auto scaling group per group of the
// `nodeGroups` map. The cluster autoscaler owns the group sizes once they exist.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { NodeGroupConfig } from "../model";
import { clusterTagKey, resourceTags, Tags } from "../infra/tags";
import { asgTags, CAPACITY_TIMEOUT, HEALTH_CHECK_GRACE_SECONDS, launchConfigurationOptions } from "./asg";
// The kubelet flag values are part of the user data: rendered where the user data is made.
export { nodeLabelsValue, nodeTaintsValue } from "./node-user-data";

/** Oldest instances go first; the reference's order. */
export const TERMINATION_POLICIES = ["OldestInstance", "NewestInstance", "OldestLaunchConfiguration", "Default"];

export const AUTOSCALER_TAG_PREFIX = "k8s.io/cluster-autoscaler";

export interface NodeGroupsArgs {
    environment: string;
    tags: Tags;
    provider: aws.Provider;
    parent: pulumi.Resource;
    privateSubnetId: pulumi.Input<string>;
    clusterSecurityGroupId: pulumi.Input<string>;
    instanceProfileName: pulumi.Input<string>;
    keyName: string;
    groups: Record<string, NodeGroupConfig>;
    /** gzip+base64 user data (a secret) of one group. */
    userDataFor: (groupName: string, group: NodeGroupConfig) => pulumi.Output<string>;
    /** IMDSv2 only, hop limit 1 (`requireMetadataTokens`; zCompute does not support it). */
    requireMetadataTokens?: boolean;
    dependsOn: pulumi.Resource[];
}

export function nodeGroupAsgName(environment: string, groupName: string): string {
    return `${environment}-${groupName}`;
}

/** Tags of a worker group: instance tags + autoscaler discovery and node templates. */
export function nodeGroupTags(environment: string, groupName: string, group: NodeGroupConfig, extra: Tags): Tags {
    const tags: Tags = {
        ...resourceTags(environment, nodeGroupAsgName(environment, groupName), extra),
        "kubernetes.io/role": "worker",
        [clusterTagKey(environment)]: "owned",
        [environment]: "data",
        // The autoscaler discovers groups by these tag keys (any value; "owned" as the reference).
        [`${AUTOSCALER_TAG_PREFIX}/${environment}`]: "owned",
        [`${AUTOSCALER_TAG_PREFIX}/enabled`]: "owned",
    };
    // Node templates let the autoscaler scale a group up from zero for pods that need them.
    for (const [key, value] of Object.entries(group.labels)) {
        tags[`${AUTOSCALER_TAG_PREFIX}/node-template/label/${key}`] = value;
    }
    for (const taint of group.taints) {
        tags[`${AUTOSCALER_TAG_PREFIX}/node-template/taint/${taint.key}`] = `${taint.value ?? ""}:${taint.effect}`;
    }
    return tags;
}

/** The autoscaler changes desiredCapacity at run time; Pulumi must not reset it. */
export function workerAsgOptions(base: pulumi.CustomResourceOptions): pulumi.CustomResourceOptions {
    return { ...base, ignoreChanges: ["desiredCapacity"] };
}

export class NodeGroups {
    readonly launchConfigurations: Record<string, aws.ec2.LaunchConfiguration> = {};
    readonly asgs: Record<string, aws.autoscaling.Group> = {};

    constructor(private readonly args: NodeGroupsArgs) {
        for (const [groupName, group] of Object.entries(args.groups)) {
            this.addGroup(groupName, group);
        }
    }

    get asgNames(): pulumi.Output<Record<string, string>> {
        const entries = Object.entries(this.asgs).map(([group, asg]) => asg.name.apply((name) => [group, name] as [string, string]));
        return pulumi.all(entries).apply((pairs) => Object.fromEntries(pairs));
    }

    get resources(): pulumi.Resource[] {
        return Object.values(this.asgs);
    }

    private addGroup(groupName: string, group: NodeGroupConfig): void {
        const env = this.args.environment;
        const asgName = nodeGroupAsgName(env, groupName);
        const opts: pulumi.CustomResourceOptions = { provider: this.args.provider, parent: this.args.parent };

        const launchConfiguration = new aws.ec2.LaunchConfiguration(
            asgName,
            {
                // Block devices cannot be diffed on zCompute (ignored), so the size is part of the
                // name: a new size makes a new launch configuration instead of being ignored.
                namePrefix: `${asgName}-${group.volumeSize}g-`,
                imageId: group.amiId,
                instanceType: group.instanceType,
                keyName: this.args.keyName,
                securityGroups: [this.args.clusterSecurityGroupId],
                iamInstanceProfile: this.args.instanceProfileName,
                rootBlockDevice: { volumeSize: group.volumeSize, deleteOnTermination: true, encrypted: false },
                userDataBase64: this.args.userDataFor(groupName, group),
                metadataOptions: this.args.requireMetadataTokens ? { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 } : undefined,
            },
            launchConfigurationOptions({ ...opts, dependsOn: this.args.dependsOn }),
        );
        this.launchConfigurations[groupName] = launchConfiguration;

        this.asgs[groupName] = new aws.autoscaling.Group(
            asgName,
            {
                name: asgName,
                launchConfiguration: launchConfiguration.name,
                vpcZoneIdentifiers: [this.args.privateSubnetId],
                minSize: group.minSize,
                maxSize: group.maxSize,
                desiredCapacity: group.desiredSize,
                defaultCooldown: group.cooldown,
                healthCheckType: "EC2",
                healthCheckGracePeriod: HEALTH_CHECK_GRACE_SECONDS,
                waitForCapacityTimeout: CAPACITY_TIMEOUT,
                terminationPolicies: TERMINATION_POLICIES,
                tags: asgTags(nodeGroupTags(env, groupName, group, this.args.tags)),
            },
            workerAsgOptions(opts),
        );
    }
}
