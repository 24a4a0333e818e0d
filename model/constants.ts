// Closed sets of choices the stack model allows. Pure constants: this folder is the bottom
// layer (it imports nothing of ours), so config/ and every component can depend on it.

/** The pod networks the add-ons can install (same list as addons/versions.ts CNI_CHOICES). */
export const CNI_CHOICES = ["flannel", "calico", "cilium"] as const;
export type CniChoice = (typeof CNI_CHOICES)[number];

/** zCompute volume types an `ebs-sc` StorageClass may name. */
export const VOLUME_TYPES = ["io1", "io2", "gp2", "gp3", "sc1", "st1", "standard", "sbp1", "sbg1"] as const;
export type VolumeType = (typeof VOLUME_TYPES)[number];

/**
 * Only standalone control-plane instances: an ASG-started master cannot receive the
 * control-plane secrets, and an ASG may replace masters outside the quorum-safe roll.
 */
export const CONTROL_PLANE_MODES = ["standalone"] as const;
export type ControlPlaneMode = (typeof CONTROL_PLANE_MODES)[number];

export const TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"] as const;
export type TaintEffect = (typeof TAINT_EFFECTS)[number];

/** The Kubernetes API port: NLB listener, target group and kubeadm endpoint. */
export const API_PORT = 6443;
/**
 * The bastion's bundle server (python3 http.server, read-only directory of boot bundles):
 * reachable only from the cluster SG. Nodes download their sha256-checked boot bundle here.
 */
export const BUNDLE_PORT = 8089;
/** zCompute answers the AWS API under one region name. */
export const ZCOMPUTE_REGION = "us-east-1";

/**
 * How the program's SSH steps check the machine they reach: `console` pins each instance's host
 * key, read from the instance's own console output; `unpinned` checks nothing (clouds without
 * GetConsoleOutput).
 */
export const SSH_HOST_KEY_MODES = ["console", "unpinned"] as const;
export type SshHostKeyMode = (typeof SSH_HOST_KEY_MODES)[number];

/** The Pulumi project name: the namespace of every config key (`zadara-eksd:<key>`). */
export const PROJECT_NAME = "zadara-eksd";
