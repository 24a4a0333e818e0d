"""A tiny stateful stand-in for the zCompute API (aws CLI) and the Kubernetes API (kubectl).

Used as the body of the `aws` and `kubectl` stubs in the shell-script tests:
    python3 fake-cloud.py aws <aws CLI arguments...>
    python3 fake-cloud.py kubectl <kubectl arguments...>
State lives in $TEST_ROOT/state.json, so it survives between calls:
    lbs        [{arn, name, tags, state?, owner?, controllerPolls?, stuck?}]
    listeners  [{arn, lb}]
    tgs        [{arn, name, tags, lbs, owner?, stuck?}]
    volumes    [{id, state, instance?, tags, owner?, stuck?}]
    sgs        [{id, name, tags, ingress?, egress?, owner?, stuck?}]   (rules in EC2 JSON form)
    k8s        {services, ingresses, statefulsets, persistentvolumes, persistentvolumeclaims, pods}
    apiDown    true: every kubectl call fails like an unreachable API server
    cloudDown  true: every aws call fails
A cloud resource whose `owner` is "<kind>/<namespace>/<name>" plays the controller's part: once
kubectl deletes that object it disappears after `controllerPolls` (default 2) more
describe-load-balancers calls, i.e. polls of the cleanup script, unless it is `stuck`.
"""
import json
import os
import sys

STATE = os.path.join(os.environ["TEST_ROOT"], "state.json")
KINDS = {
    "service": "services", "services": "services", "svc": "services",
    "ingress": "ingresses", "ingresses": "ingresses",
    "statefulset": "statefulsets", "statefulsets": "statefulsets",
    "persistentvolume": "persistentvolumes", "persistentvolumes": "persistentvolumes", "pv": "persistentvolumes",
    "persistentvolumeclaim": "persistentvolumeclaims", "persistentvolumeclaims": "persistentvolumeclaims",
    "pvc": "persistentvolumeclaims",
    "pod": "pods", "pods": "pods",
}
SINGULAR = {
    "services": "service", "ingresses": "ingress", "statefulsets": "statefulset",
    "persistentvolumes": "persistentvolume", "persistentvolumeclaims": "persistentvolumeclaim", "pods": "pod",
}


def load():
    with open(STATE) as f:
        state = json.load(f)
    for key in ("lbs", "listeners", "tgs", "volumes", "sgs"):
        state.setdefault(key, [])
    state.setdefault("k8s", {})
    for kind in SINGULAR:
        state["k8s"].setdefault(kind, [])
    return state


def save(state):
    with open(STATE, "w") as f:
        json.dump(state, f, indent=1)


def fail(message, code=254):
    sys.stderr.write(message + "\n")
    sys.exit(code)


def tags_out(tags):
    return [{"Key": k, "Value": v} for k, v in (tags or {}).items()]


def option(args, name, many=False):
    """Value(s) after --name in args; many=True collects until the next --option."""
    for i, arg in enumerate(args):
        if arg == name:
            if not many:
                return args[i + 1]
            values = []
            for value in args[i + 1:]:
                if value.startswith("--"):
                    break
                values.append(value)
            return values
    return [] if many else None


def remove_lb(state, arn):
    state["lbs"] = [lb for lb in state["lbs"] if lb["arn"] != arn]
    state["listeners"] = [l for l in state["listeners"] if l["lb"] != arn]
    for tg in state["tgs"]:
        tg["lbs"] = [a for a in tg.get("lbs", []) if a != arn]


def controllers_tick(state):
    """One poll has passed: resources whose Kubernetes object is gone count down."""
    for key, ident in (("lbs", "arn"), ("tgs", "arn"), ("volumes", "id"), ("sgs", "id")):
        for res in list(state[key]):
            if "deleteIn" not in res:
                continue
            res["deleteIn"] -= 1
            if res["deleteIn"] <= 0:
                if key == "lbs":
                    remove_lb(state, res["arn"])
                else:
                    state[key] = [r for r in state[key] if r[ident] != res[ident]]


def owner_deleted(state, owner):
    for key in ("lbs", "tgs", "volumes", "sgs"):
        for res in state[key]:
            if res.get("owner") == owner and not res.get("stuck"):
                res.setdefault("deleteIn", res.get("controllerPolls", 2))


def matches_filters(volume, filters):
    tags = volume.get("tags", {})
    for spec in filters:
        parts = dict(p.split("=", 1) for p in spec.split(",", 1))
        name, values = parts["Name"], parts["Values"].split(",")
        if name.startswith("tag:"):
            if tags.get(name[4:]) not in values:
                return False
        elif name == "status":
            if volume.get("state") not in values:
                return False
        else:
            fail("fake-cloud: unsupported filter " + name)
    return True


def aws(args):
    state = load()
    if state.get("cloudDown"):
        fail("Could not connect to the endpoint URL: \"https://cloud.example.test/api/v2/aws/ec2\"", 255)
    globals_with_value = {"--region", "--endpoint-url", "--output", "--ca-bundle"}
    i = 0
    while args[i].startswith("--"):
        i += 2 if args[i] in globals_with_value else 1
    service, op, rest = args[i], args[i + 1], args[i + 2:]
    result = {}

    if (service, op) == ("elbv2", "describe-load-balancers"):
        controllers_tick(state)
        result = {"LoadBalancers": [
            {"LoadBalancerArn": lb["arn"], "LoadBalancerName": lb["name"],
             "State": {"Code": lb.get("state", "active")}, "Type": "network"} for lb in state["lbs"]]}
    elif (service, op) == ("elbv2", "describe-tags"):
        arns = option(rest, "--resource-arns", many=True)
        if len(arns) > 20:
            fail("ValidationError: at most 20 resource ARNs")
        everything = {r["arn"]: r for r in state["lbs"] + state["tgs"]}
        result = {"TagDescriptions": [
            {"ResourceArn": a, "Tags": tags_out(everything[a].get("tags"))} for a in arns if a in everything]}
    elif (service, op) == ("elbv2", "describe-target-groups"):
        result = {"TargetGroups": [
            {"TargetGroupArn": tg["arn"], "TargetGroupName": tg["name"], "LoadBalancerArns": tg.get("lbs", [])}
            for tg in state["tgs"]]}
    elif (service, op) == ("elbv2", "describe-listeners"):
        lb = option(rest, "--load-balancer-arn")
        result = {"Listeners": [{"ListenerArn": l["arn"]} for l in state["listeners"] if l["lb"] == lb]}
    elif (service, op) == ("elbv2", "delete-listener"):
        arn = option(rest, "--listener-arn")
        state["listeners"] = [l for l in state["listeners"] if l["arn"] != arn]
    elif (service, op) == ("elbv2", "delete-load-balancer"):
        arn = option(rest, "--load-balancer-arn")
        lb = next((x for x in state["lbs"] if x["arn"] == arn), None)
        if lb and lb.get("stuck"):
            fail("An error occurred (ResourceInUse) when calling the DeleteLoadBalancer operation")
        remove_lb(state, arn)
    elif (service, op) == ("elbv2", "delete-target-group"):
        arn = option(rest, "--target-group-arn")
        tg = next((x for x in state["tgs"] if x["arn"] == arn), None)
        if tg and (tg.get("stuck") or tg.get("lbs")):
            fail("An error occurred (ResourceInUse) when calling the DeleteTargetGroup operation")
        state["tgs"] = [x for x in state["tgs"] if x["arn"] != arn]
    elif (service, op) == ("ec2", "describe-volumes"):
        filters = option(rest, "--filters", many=True)
        result = {"Volumes": [
            {"VolumeId": v["id"], "State": v.get("state", "available"), "Tags": tags_out(v.get("tags")),
             "Attachments": [{"InstanceId": v["instance"]}] if v.get("instance") else []}
            for v in state["volumes"] if matches_filters(v, filters)]}
    elif (service, op) == ("ec2", "delete-volume"):
        vid = option(rest, "--volume-id")
        vol = next((x for x in state["volumes"] if x["id"] == vid), None)
        if vol and (vol.get("stuck") or vol.get("state") == "in-use"):
            fail("An error occurred (VolumeInUse) when calling the DeleteVolume operation: " + vid)
        state["volumes"] = [x for x in state["volumes"] if x["id"] != vid]
    elif (service, op) == ("ec2", "describe-security-groups"):
        result = {"SecurityGroups": [
            {"GroupId": g["id"], "GroupName": g["name"], "Tags": tags_out(g.get("tags")),
             "IpPermissions": g.get("ingress", []), "IpPermissionsEgress": g.get("egress", [])}
            for g in state["sgs"]]}
    elif service == "ec2" and op in ("revoke-security-group-ingress", "revoke-security-group-egress"):
        group = next(g for g in state["sgs"] if g["id"] == option(rest, "--group-id"))
        revoked = {p["GroupId"] for perm in json.loads(option(rest, "--ip-permissions"))
                   for p in perm.get("UserIdGroupPairs", [])}
        key = "ingress" if op.endswith("ingress") else "egress"
        for perm in group.get(key, []):
            perm["UserIdGroupPairs"] = [p for p in perm.get("UserIdGroupPairs", []) if p["GroupId"] not in revoked]
        group[key] = [p for p in group.get(key, []) if p.get("UserIdGroupPairs") or p.get("IpRanges")]
    elif (service, op) == ("ec2", "delete-security-group"):
        gid = option(rest, "--group-id")
        group = next((x for x in state["sgs"] if x["id"] == gid), None)
        referenced = any(p.get("GroupId") == gid for g in state["sgs"] if g["id"] != gid
                         for perm in g.get("ingress", []) + g.get("egress", [])
                         for p in perm.get("UserIdGroupPairs", []))
        if group and (group.get("stuck") or referenced):
            fail("An error occurred (DependencyViolation) when calling the DeleteSecurityGroup operation: " + gid)
        state["sgs"] = [x for x in state["sgs"] if x["id"] != gid]
    else:
        fail("fake-cloud: unsupported aws call " + service + " " + op)
    save(state)
    print(json.dumps(result))


def kubectl(args):
    state = load()
    words = []
    i = 0
    while i < len(args):
        if args[i] in ("--kubeconfig", "-n", "--namespace", "-o"):
            words.append((args[i], args[i + 1]))
            i += 2
        else:
            words.append((args[i], None))
            i += 1
    flags = {k: v for k, v in words if v is not None}
    plain = [k for k, v in words if v is None and not k.startswith("-")]
    if state.get("apiDown"):
        fail("The connection to the server 192.168.2.250:6443 was refused - did you specify the right host or port?", 1)
    if plain[0] == "get" and "--raw=/readyz" in args:
        print("ok")
        return
    if plain[0] == "get":
        kind = KINDS[plain[1]]
        print(json.dumps({"apiVersion": "v1", "kind": "List", "items": state["k8s"][kind]}))
        return
    if plain[0] == "delete":
        kind, name = KINDS[plain[1]], plain[2]
        namespace = flags.get("--namespace") or flags.get("-n") or "default"
        items = state["k8s"][kind]
        state["k8s"][kind] = [o for o in items
                              if not (o["metadata"]["name"] == name and o["metadata"].get("namespace") == namespace)]
        owner_deleted(state, SINGULAR[kind] + "/" + namespace + "/" + name)
        if kind == "persistentvolumeclaims":
            # The PV controller and the CSI driver take it from here.
            state["k8s"]["persistentvolumes"] = [
                pv for pv in state["k8s"]["persistentvolumes"]
                if (pv["spec"].get("claimRef") or {}).get("name") != name]
        save(state)
        print(SINGULAR[kind] + ' "' + name + '" deleted')
        return
    fail("fake-cloud: unsupported kubectl call " + " ".join(args))


if __name__ == "__main__":
    {"aws": aws, "kubectl": kubectl}[sys.argv[1]](sys.argv[2:])
