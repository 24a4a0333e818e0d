// One check per assumption the program makes about zCompute (README "Known limits"). Read-only
// unless noted; what only a running instance can show comes from the --deep probe and is
// "cannot-tell" without it.
import * as fs from "node:fs";
import { CloudCallError } from "../cleanup/cloud";
import { isInUse } from "../cleanup/errors";
import { CA_BUNDLE_ENV, providerCaBundleProblem } from "../infra/provider-ca";
import { ConsoleHostKeys, hostKeyLine, parseConsoleHostKeys, preferredHostKey } from "../hostkeys/console";
import { errorCode } from "./cloud";
import { checkTls } from "./tls";
import type { CheckOutcome, DoctorCheck } from "./types";

const IN_USE_CODES_DOC = "cleanup/errors.ts";
/** The states the control-plane retire step asks for (cluster/control-plane.ts LIVE_INSTANCE_STATES). */
const LIVE_STATES = ["pending", "running", "stopping", "stopped"];
/** An id no cloud hands out: a filter that works returns nothing for it. */
const ABSENT_INSTANCE_ID = "i-00000000000000000";

const deepOnly = (what: string, action: string): CheckOutcome => ({
    status: "cannot-tell",
    detail: `only a running instance shows ${what}: run with --deep`,
    programAction: action,
});

const always = () => true;
const never = () => false;

export const credentialsCheck: DoctorCheck = {
    id: "credentials",
    assumption: "the access key is valid for this cloud (STS GetCallerIdentity)",
    configKey: "accessKey / secretKey (or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)",
    docs: "README.md#real-use",
    needed: always,
    async run({ cloud }) {
        try {
            const who = await cloud.callerIdentity();
            return { status: "holds", detail: `caller ${who.arn || "?"} (account ${who.account || "?"})`, programAction: "uses these credentials" };
        } catch (error) {
            const code = errorCode(error);
            const refused = /InvalidClientTokenId|SignatureDoesNotMatch|AuthFailure|AccessDenied|UnrecognizedClient|ExpiredToken/.test(code);
            return {
                status: refused ? "fails" : "cannot-tell",
                detail: error instanceof Error ? error.message : String(error),
                programAction: refused
                    ? "every call of the provider fails: fix the keys"
                    : "STS did not answer; the provider skips this check (skipCredentialsValidation)",
            };
        }
    },
};

export const tlsCheck: DoctorCheck = {
    id: "api-tls",
    assumption: "the API's TLS chain verifies against rootCaCert (or the public roots)",
    configKey: "rootCaCert / insecure",
    docs: "README.md#tls-to-the-zcompute-api",
    needed: (stack) => !stack.cloud.insecure,
    async run({ stack, cloud }) {
        const answer = await checkTls(cloud.connection.baseUrl, stack.cloud.rootCaCert);
        const action = stack.cloud.insecure ? "insecure: true skips verification (a man in the middle could read the keys)" : "verifies the certificate";
        switch (answer.result) {
            case "trusted":
                return { status: "holds", detail: answer.detail, programAction: action };
            case "untrusted":
                return {
                    status: "fails",
                    detail: answer.detail,
                    programAction: stack.cloud.insecure ? action : "every client refuses the cloud: set rootCaCert to the cloud's root CA (or insecure: true)",
                };
            default:
                return { status: "cannot-tell", detail: answer.detail, programAction: action };
        }
    },
};

export const providerCaCheck: DoctorCheck = {
    id: "provider-ca-trust",
    assumption: `the AWS provider process trusts rootCaCert (${CA_BUNDLE_ENV} names a file holding it; provider 4.7.0 has no CA argument)`,
    configKey: "rootCaCert",
    docs: "docs/doctor.md#provider-ca-trust",
    needed: (stack) => stack.cloud.rootCaCert !== undefined && !stack.cloud.insecure,
    run({ stack, env }) {
        if (!stack.cloud.rootCaCert || stack.cloud.insecure) {
            return { status: "holds", detail: "no private CA to trust (rootCaCert unset or insecure: true)", programAction: "nothing to pass to the provider" };
        }
        const problem = providerCaBundleProblem(stack.cloud.rootCaCert, stack.cloud.insecure, env, (file) => fs.readFileSync(file, "utf8"));
        return problem
            ? { status: "fails", detail: problem, programAction: "`pulumi up` stops before registering anything and names this fix" }
            : { status: "holds", detail: `${CA_BUNDLE_ENV}=${env[CA_BUNDLE_ENV]} holds rootCaCert`, programAction: "the provider trusts the cloud" };
    },
};

export const metadataOptionsCheck: DoctorCheck = {
    id: "metadata-options",
    assumption: "RunInstances accepts metadataOptions (IMDSv2 tokens required, hop limit 1)",
    configKey: "requireMetadataTokens",
    docs: "docs/boot.md#unverified-on-zcompute",
    needed: (stack) => stack.hardening.requireMetadataTokens,
    run({ deep, stack }) {
        const setting = stack.hardening.requireMetadataTokens
            ? "requireMetadataTokens: true sends them"
            : "requireMetadataTokens is false: no metadataOptions are sent";
        if (!deep || deep.metadataOptionsAccepted === undefined) {
            return deepOnly("whether RunInstances takes metadataOptions", setting);
        }
        return deep.metadataOptionsAccepted
            ? { status: "holds", detail: `RunInstances accepted them (instance ${deep.instanceId ?? "?"}); enforcement is not checked`, programAction: setting }
            : {
                  status: "fails",
                  detail: `RunInstances refused them: ${deep.metadataOptionsError ?? "?"}`,
                  programAction: "record this result (--record): the stack config then refuses requireMetadataTokens: true",
              };
    },
};

export const metadataInstanceIdCheck: DoctorCheck = {
    id: "metadata-instance-id",
    assumption: "the metadata's instance-id is the id the cloud API reports",
    configKey: "-",
    docs: "README.md#known-limits",
    needed: never,
    run({ deep }) {
        const early = "replaced control-plane nodes retire early, one at a time (the retire step's identity check)";
        if (!deep?.instanceId || deep.metadataInstanceId === undefined) {
            return deepOnly("its metadata", "the retire step decides per node; when the ids differ, replaced nodes leave at the end of the update");
        }
        return deep.metadataInstanceId === deep.instanceId
            ? { status: "holds", detail: `metadata and API both say ${deep.instanceId}`, programAction: early }
            : {
                  status: "fails",
                  detail: `metadata says "${deep.metadataInstanceId}", the API ${deep.instanceId}`,
                  programAction:
                      "every retire step says the address belongs to another instance and does nothing; replaced nodes leave at the end of the update",
              };
    },
};

export const hostnameCheck: DoctorCheck = {
    id: "hostname",
    assumption: "a node's host name (kubeadm Node and etcd member name) is the cloud's private DNS name",
    configKey: "-",
    docs: "docs/lifecycle.md#which-node-leaves",
    needed: never,
    run({ deep }) {
        if (!deep?.instanceId || deep.hostname === undefined) {
            return deepOnly("its host name", "Node and etcd member names are the host name the image sets");
        }
        const dns = (deep.privateDnsName ?? "").split(".")[0];
        if (!dns) {
            return {
                status: "cannot-tell",
                detail: `host name "${deep.hostname}"; the API reports no private DNS name to compare`,
                programAction: "names nodes by host name",
            };
        }
        return deep.hostname.split(".")[0] === dns
            ? { status: "holds", detail: `host name "${deep.hostname}" matches the private DNS name`, programAction: "names nodes by host name" }
            : {
                  status: "fails",
                  detail: `host name "${deep.hostname}", private DNS name "${deep.privateDnsName}"`,
                  programAction: "Node names follow the image's host name: check that it does not change on reboot (docs/lifecycle.md)",
              };
    },
};

export const describeFiltersCheck: DoctorCheck = {
    id: "describe-instances-filters",
    assumption: "DescribeInstances honours the instance-id and instance-state-name filters",
    configKey: "-",
    docs: "docs/lifecycle.md#which-node-leaves",
    needed: always,
    async run({ cloud }) {
        const action = "the retire step asks whether a recorded instance still exists with these filters";
        let absent;
        try {
            absent = await cloud.instancesByIdFilter([ABSENT_INSTANCE_ID], LIVE_STATES);
        } catch (error) {
            return { status: "fails", detail: `refused: ${error instanceof Error ? error.message : String(error)}`, programAction: `${action}: it would fail` };
        }
        if (absent.length > 0) {
            return {
                status: "fails",
                detail: `a filter on ${ABSENT_INSTANCE_ID} returned ${absent.length} instance(s) (${absent.map((i) => i.id).join(", ")}): the filters are ignored`,
                programAction: `${action}: it would mistake other instances for the recorded one`,
            };
        }
        const live = (await cloud.instances()).find((i) => LIVE_STATES.includes(i.state));
        if (!live) {
            return { status: "holds", detail: "refused nothing and returned nothing for an absent id (no instance to confirm a match)", programAction: action };
        }
        const match = await cloud.instancesByIdFilter([live.id], LIVE_STATES);
        return match.length === 1 && match[0].id === live.id
            ? { status: "holds", detail: `returned exactly ${live.id} for its id, nothing for an absent one`, programAction: action }
            : {
                  status: "fails",
                  detail: `asked for ${live.id}, got [${match.map((i) => i.id).join(", ")}]`,
                  programAction: `${action}: it would get a wrong answer`,
              };
    },
};

/**
 * `arn:...:loadbalancer/net/<name>/<id>` → `ELB net/<name>/<id>` (cluster/api-endpoint.ts). The
 * type segment is taken from the ARN as the cloud wrote it (moto writes `app/` for NLBs too).
 */
function interfaceDescription(arn: string): string | undefined {
    const match = /loadbalancer\/((?:net|app)\/[^/]+\/[^/]+)$/.exec(arn);
    return match ? `ELB ${match[1]}` : undefined;
}

export const nlbInterfaceCheck: DoctorCheck = {
    id: "nlb-interface-description",
    assumption: "an NLB's network interface carries `ELB net/<name>/<id>` and is listable with a description filter",
    configKey: "-",
    docs: "docs/cleanup.md#unverified-on-zcompute-check-on-a-first-real-deployment",
    needed: always,
    async run({ cloud }) {
        const action = "finds the API NLB's addresses (certificate SANs) and stray interfaces (cleanup) by this description";
        const nlbs = (await cloud.loadBalancers()).filter((lb) => lb.type === "network");
        if (nlbs.length === 0) {
            return {
                status: "cannot-tell",
                detail: "no network load balancer exists to look at: run again after the first `pulumi up`",
                programAction: action,
            };
        }
        const missing: string[] = [];
        for (const nlb of nlbs) {
            const description = interfaceDescription(nlb.arn);
            try {
                if (!description || (await cloud.networkInterfaceIdsByDescription(description)).length === 0) {
                    missing.push(nlb.name);
                }
            } catch (error) {
                return {
                    status: "fails",
                    detail: `a description filter is refused: ${error instanceof Error ? error.message : String(error)}`,
                    programAction: "the API address lookup and the cleanup's interface sweep cannot list by description",
                };
            }
        }
        return missing.length === 0
            ? { status: "holds", detail: `found the interface of each of ${nlbs.length} NLB(s) by description`, programAction: action }
            : {
                  status: "fails",
                  detail: `no interface listed by description for NLB(s) ${missing.join(", ")}`,
                  programAction: "the API address lookup fails and the cleanup leaves such interfaces to its leftover table",
              };
    },
};

export const classicElbPathCheck: DoctorCheck = {
    id: "classic-elb-path",
    assumption: "the classic ELB API answers under the elbv2 path",
    configKey: "-",
    docs: "docs/cleanup.md#unverified-on-zcompute-check-on-a-first-real-deployment",
    needed: always,
    async run({ cloud }) {
        try {
            const elbs = await cloud.classicElbs();
            return {
                status: "holds",
                detail: `DescribeLoadBalancers (2012-06-01) answered: ${elbs.length} classic ELB(s)`,
                programAction: "the cleanup removes the cloud controller's classic ELBs",
            };
        } catch (error) {
            return {
                status: "fails",
                detail: error instanceof Error ? error.message : String(error),
                programAction: "the cleanup cannot list classic ELBs: `pulumi destroy` stops on them (remove by hand, docs/cleanup.md)",
            };
        }
    },
};

export const inUseCodesCheck: DoctorCheck = {
    id: "in-use-error-codes",
    assumption: `deleting a resource still in use answers with an "in use" code the cleanup knows (${IN_USE_CODES_DOC})`,
    configKey: "-",
    docs: "docs/cleanup.md#unverified-on-zcompute-check-on-a-first-real-deployment",
    needed: never,
    run({ deep }) {
        const action = "the cleanup retries in-use resources until its deadline and treats other codes as failures";
        if (!deep?.instanceId || (deep.inUseCode === undefined && !deep.inUseDeleted)) {
            return deepOnly("the code for a security group in use", action);
        }
        if (deep.inUseDeleted) {
            return { status: "fails", detail: "the cloud deleted a security group an instance still used", programAction: action };
        }
        const code = deep.inUseCode ?? "";
        return isInUse(new CloudCallError("ec2:DeleteSecurityGroup", code, ""))
            ? { status: "holds", detail: `DeleteSecurityGroup of a group in use answered ${code}`, programAction: action }
            : {
                  status: "fails",
                  detail: `DeleteSecurityGroup of a group in use answered ${code}, not one of the cleanup's in-use codes`,
                  programAction: "the cleanup reports such a group as failed instead of waiting for it",
              };
    },
};

export const asgLaunchConfigurationCheck: DoctorCheck = {
    id: "asg-instance-launch-configuration",
    assumption: "DescribeAutoScalingInstances reports LaunchConfigurationName per instance",
    configKey: "-",
    docs: "docs/rolls.md#not-verified-on-zcompute-yet",
    needed: always,
    async run({ cloud }) {
        const action = "worker rolls pick the instances whose launch configuration is not the group's current one";
        const instances = await cloud.asgInstances();
        if (instances.length === 0) {
            return {
                status: "cannot-tell",
                detail: "no auto-scaling group instance exists to look at: run again after the first `pulumi up`",
                programAction: action,
            };
        }
        const without = instances.filter((i) => !i.launchConfigurationName);
        return without.length === 0
            ? { status: "holds", detail: `all ${instances.length} ASG instance(s) name their launch configuration`, programAction: action }
            : {
                  status: "fails",
                  detail: `${without.length} of ${instances.length} ASG instance(s) report no launch configuration (${without.map((i) => i.instanceId).join(", ")})`,
                  programAction: "a worker roll cannot tell old instances from new ones: it would replace every instance",
              };
    },
};

export const terminateDecrementCheck: DoctorCheck = {
    id: "asg-terminate-decrement",
    assumption: "TerminateInstanceInAutoScalingGroup with ShouldDecrementDesiredCapacity lowers the desired capacity",
    configKey: "-",
    docs: "docs/rolls.md#not-verified-on-zcompute-yet",
    needed: never,
    run() {
        return {
            status: "cannot-tell",
            detail: "checking it needs an auto-scaling group of its own; `npm run acceptance` proves it with a worker roll",
            programAction: "worker rolls terminate drained instances with decrement",
        };
    },
};

export const bundlePortCheck: DoctorCheck = {
    id: "bastion-bundle-port",
    assumption: "a security group rule on the bastion's bundle port (tcp 8089) is accepted",
    configKey: "-",
    docs: "docs/boot.md#unverified-on-zcompute",
    needed: always,
    run({ deep }) {
        const action = "control-plane nodes fetch the boot bundle from the bastion on 8089";
        if (!deep || deep.bundlePortRuleAccepted === undefined) {
            return deepOnly("whether the rule is accepted (it adds one to a temporary group)", action);
        }
        return deep.bundlePortRuleAccepted
            ? {
                  status: "holds",
                  detail: "AuthorizeSecurityGroupIngress tcp 8089 accepted; the bastion's python3 service itself is checked by the boot",
                  programAction: action,
              }
            : {
                  status: "fails",
                  detail: `refused: ${deep.bundlePortError ?? "?"}`,
                  programAction: "nodes cannot fetch the boot bundle: the bootstrap steps time out",
              };
    },
};

export const iamConditionKeysCheck: DoctorCheck = {
    id: "iam-condition-keys",
    assumption: "IAM honours the condition keys of the node policies (cluster/iam-policies)",
    configKey: "controlPlaneInstanceProfile / workerInstanceProfile",
    docs: "README.md#iam",
    needed: never,
    run() {
        return {
            status: "cannot-tell",
            detail: "only a call from a node's role shows whether a condition is enforced; the acceptance run exercises the controllers with these policies",
            programAction: "attaches the scoped policies; bring your own profiles to use others",
        };
    },
};

/** Codes of a cloud that has no console output API at all. */
const NO_CONSOLE_API = /UnsupportedOperation|InvalidAction|NotImplemented|UnknownOperation/;

/** A console's host keys as a row: holds with the key it would pin, or why not. */
function hostKeysOutcome(where: string, found: ConsoleHostKeys, action: string): CheckOutcome {
    if (found.kind === "keys") {
        const key = preferredHostKey(found.keys);
        return {
            status: "holds",
            detail: `${where} shows ${found.keys.length} host key(s); it would pin ${key ? hostKeyLine(key).slice(0, 40) : "?"}...`,
            programAction: action,
        };
    }
    if (found.kind === "unusable") {
        return { status: "fails", detail: `${where}: ${found.reason}`, programAction: "the host-key step of such an instance fails; check its image" };
    }
    return {
        status: "fails",
        detail: `${where} shows no complete -----BEGIN SSH HOST KEY KEYS----- block${found.partial ? " (one started and did not end)" : ""}: the image's cloud-init does not print the keys (keys_to_console off?)`,
        programAction: "every host-key step would wait for its deadline and fail: fix the image, or pulumi config set sshHostKeys unpinned",
    };
}

export const consoleHostKeysCheck: DoctorCheck = {
    id: "ssh-host-keys-console",
    assumption: "GetConsoleOutput shows an instance's SSH host keys (cloud-init's -----BEGIN SSH HOST KEY KEYS----- block)",
    configKey: "sshHostKeys",
    docs: "docs/security.md#ssh-host-keys",
    needed: (stack) => stack.cluster.sshHostKeys === "console",
    async run({ deep, cloud, stack }) {
        const action =
            stack.cluster.sshHostKeys === "console"
                ? "every SSH step pins the host key read from its instance's console"
                : "sshHostKeys is unpinned: SSH steps check no host key";
        if (deep?.instanceId) {
            if (deep.consoleError !== undefined) {
                return {
                    status: "fails",
                    detail: `GetConsoleOutput of the probe ${deep.instanceId} failed: ${deep.consoleError}`,
                    programAction: "no host key can be read: pulumi config set sshHostKeys unpinned",
                };
            }
            if (deep.consoleHostKeys !== undefined) {
                return hostKeysOutcome(`the console of the probe ${deep.instanceId} (image ${stack.cluster.controlPlane.amiId})`, deep.consoleHostKeys, action);
            }
        }
        // Without --deep: any running instance of the account; an old one may have scrolled past its boot.
        const running = (await cloud.instances()).find((i) => i.state === "running");
        if (!running) {
            return deepOnly("whether its console shows its host keys (no running instance to ask)", action);
        }
        let text: string;
        try {
            text = await cloud.consoleOutput(running.id);
        } catch (error) {
            if (NO_CONSOLE_API.test(errorCode(error))) {
                return {
                    status: "fails",
                    detail: `GetConsoleOutput is not served: ${error instanceof Error ? error.message : String(error)}`,
                    programAction: "no host key can be read from a console: pulumi config set sshHostKeys unpinned",
                };
            }
            throw error;
        }
        const found = parseConsoleHostKeys(text);
        if (found.kind === "none") {
            return {
                status: "cannot-tell",
                detail: `GetConsoleOutput answers (${text.length} characters for ${running.id}), but that console shows no host-key block (it may have scrolled past the boot): run with --deep`,
                programAction: action,
            };
        }
        return hostKeysOutcome(`the console of ${running.id}`, found, action);
    },
};

export const terminationProtectionCheck: DoctorCheck = {
    id: "termination-protection",
    assumption: "ModifyInstanceAttribute disableApiTermination is accepted, and TerminateInstances is refused while it is on",
    configKey: "-",
    docs: "docs/lifecycle.md#termination-protection",
    needed: never,
    run({ deep }) {
        const action = "a control-plane member's instance cannot be terminated before its leave (e.g. pulumi up --target <instance>)";
        if (!deep || deep.terminationProtectionAccepted === undefined) {
            return deepOnly("whether the protection is accepted and honoured (it protects the probe instance, then tries to terminate it)", action);
        }
        if (!deep.terminationProtectionAccepted) {
            return {
                status: "fails",
                detail: `ModifyInstanceAttribute disableApiTermination was refused: ${deep.terminationProtectionError ?? "?"}`,
                programAction: "nodes log a warning and stay unprotected: never pulumi up --target a control-plane instance without --target-dependents",
            };
        }
        if (deep.protectedTerminateCode === undefined) {
            return {
                status: "fails",
                detail: "the protection was accepted, but TerminateInstances terminated the protected probe",
                programAction: "the protection does nothing here: never pulumi up --target a control-plane instance without --target-dependents",
            };
        }
        return { status: "holds", detail: `TerminateInstances refused the protected probe (${deep.protectedTerminateCode})`, programAction: action };
    },
};

export const CLOUD_CHECKS: DoctorCheck[] = [
    credentialsCheck,
    tlsCheck,
    providerCaCheck,
    metadataOptionsCheck,
    metadataInstanceIdCheck,
    hostnameCheck,
    describeFiltersCheck,
    nlbInterfaceCheck,
    classicElbPathCheck,
    inUseCodesCheck,
    asgLaunchConfigurationCheck,
    terminateDecrementCheck,
    bundlePortCheck,
    iamConditionKeysCheck,
    consoleHostKeysCheck,
    terminationProtectionCheck,
];
