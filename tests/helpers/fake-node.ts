// A stand-in for the cluster's nodes, so tests can see that add-ons wait for them.
import * as pulumi from "@pulumi/pulumi";

export class FakeNode extends pulumi.CustomResource {
    constructor(name: string) {
        super("test:index:Node", name, {}, {});
    }
}
