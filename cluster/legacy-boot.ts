// TEMPORARY adapter until the program-driven node bootstrap lands: today's user data still runs
// bootstrap.sh at boot, which decides init or join itself. A node's bootstrap Command therefore
// only waits, on that node, until bootstrap.sh reports the node ready (kubeconfig.ready, written
// once the API answers through the load balancer) or failed. The kubeconfig that
// kubeconfig-wait.sh prints goes to /dev/null: it is never sent back to the program.
import * as pulumi from "@pulumi/pulumi";
import { readScriptSource } from "./cloud-init";
import type { ControlPlaneBootInput, ControlPlaneNodeBoot, ControlPlaneNodeIdentity } from "./control-plane";
import { kubeconfigWaitCommand } from "./kubeconfig";

export class LegacyControlPlaneBoot implements ControlPlaneNodeBoot {
    readonly dependsOn: pulumi.Resource[] = [];

    constructor(
        private readonly firstNodeName: string,
        private readonly userDataFor: (identity: ControlPlaneNodeIdentity) => pulumi.Output<string>,
        private readonly waitTimeoutMinutes: number,
    ) {}

    userData(nodeName: string): pulumi.Output<string> {
        return this.userDataFor({ nodeName, leaderElection: "static", isLeader: nodeName === this.firstNodeName, asgName: "" });
    }

    /** The mode and the upgrade flag are bootstrap.sh's own decisions here. */
    bootstrapCommand(_node: ControlPlaneBootInput): { create: pulumi.Input<string>; stdin: pulumi.Input<string> } {
        return {
            create: `${kubeconfigWaitCommand(this.waitTimeoutMinutes, undefined)} >/dev/null`,
            stdin: readScriptSource("kubeconfig-wait.sh"),
        };
    }
}
