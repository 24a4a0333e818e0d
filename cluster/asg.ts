// What the control-plane ASG and the worker groups share: tag propagation, launch
// configuration options and timing defaults.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { Tags } from "../infra/tags";

export const HEALTH_CHECK_GRACE_SECONDS = 300;
/** How long creating an ASG waits for its instances to be in service. */
export const CAPACITY_TIMEOUT = "30m";

/**
 * zCompute does not propagate ASG tags whose key or value contains ':' to the instances: those
 * stay ASG-level (the autoscaler reads ASG tags); labels/taints reach nodes via kubelet args.
 */
export function propagatesAtLaunch(key: string, value: string): boolean {
    return !key.includes(":") && !value.includes(":");
}

export function asgTags(tags: Tags): aws.types.input.autoscaling.GroupTag[] {
    return Object.entries(tags).map(([key, value]) => ({ key, value, propagateAtLaunch: propagatesAtLaunch(key, value) }));
}

/**
 * zCompute cannot read block devices of a launch configuration back (endless diffs otherwise);
 * a changed configuration gets a new name (namePrefix) and is created before the old one goes.
 */
export function launchConfigurationOptions(base: pulumi.CustomResourceOptions): pulumi.CustomResourceOptions {
    return { ...base, ignoreChanges: ["rootBlockDevice", "ebsBlockDevices"], deleteBeforeReplace: false };
}
