"""boto3 against ecache, in the order Terraform's aws_elasticache_user, aws_elasticache_user_group,
aws_elasticache_user_group_association and aws_elasticache_replication_group apply and destroy: create,
associate, modify, disassociate, delete in reverse order; nothing may be left.

Needs ENDPOINT, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment; exits non-zero on the
first failed check.
"""
import os
import sys
import time

import boto3
from botocore.config import Config

ec = boto3.client(
    "elasticache",
    endpoint_url=os.environ["ENDPOINT"],
    region_name="us-west-2",
    config=Config(retries={"max_attempts": 3}),
)
fast = {"Delay": 1, "MaxAttempts": 90}


def check(cond, what):
    if not cond:
        print("FAIL:", what, file=sys.stderr)
        sys.exit(1)


def poll(what, fn, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if fn():
            return
        time.sleep(0.2)
    check(False, "timed out waiting for " + what)


def user_status(uid):
    return ec.describe_users(UserId=uid)["Users"][0]["Status"]


def group(gid):
    return ec.describe_user_groups(UserGroupId=gid)["UserGroups"][0]


u = ec.create_user(UserId="tf-app", UserName="tf-app", Engine="Redis", Passwords=["tf-app-password-0123456"],
                   AccessString="on ~* +@all", Tags=[{"Key": "owner", "Value": "tf"}])
check(u["Engine"] == "redis" and u["Status"] == "active", "created user: %r" % u)
check("Passwords" not in u and u["Authentication"] == {"Type": "password", "PasswordCount": 1}, "authentication: %r" % u)
ec.create_user(UserId="tf-default", UserName="default", Engine="redis", AccessString="on ~* +@read", NoPasswordRequired=True)
g = ec.create_user_group(UserGroupId="tf-users", Engine="redis", UserIds=["tf-default"])
check(g["Status"] == "creating" and g["UserIds"] == ["tf-default"], "created group: %r" % g)
poll("tf-users active", lambda: group("tf-users")["Status"] == "active")

# aws_elasticache_user_group_association adds a user to an existing group.
ec.modify_user_group(UserGroupId="tf-users", UserIdsToAdd=["tf-app"])
poll("tf-users active after the association", lambda: group("tf-users")["Status"] == "active")
check(sorted(group("tf-users")["UserIds"]) == ["tf-app", "tf-default"], "group users: %r" % group("tf-users"))
check(ec.describe_users(UserId="tf-app")["Users"][0]["UserGroupIds"] == ["tf-users"], "user's groups")

arn = u["ARN"]
check(ec.list_tags_for_resource(ResourceName=arn)["TagList"] == [{"Key": "owner", "Value": "tf"}], "user tags")

ec.create_replication_group(ReplicationGroupId="tf-rg", ReplicationGroupDescription="tf", Engine="redis",
                            CacheNodeType="cache.t3.micro", NumCacheClusters=2, TransitEncryptionEnabled=True,
                            UserGroupIds=["tf-users"])
ec.get_waiter("replication_group_available").wait(ReplicationGroupId="tf-rg", WaiterConfig=fast)
rg = ec.describe_replication_groups(ReplicationGroupId="tf-rg")["ReplicationGroups"][0]
check(rg["UserGroupIds"] == ["tf-users"] and not rg["AuthTokenEnabled"], "group's user groups: %r" % rg["UserGroupIds"])
check(group("tf-users")["ReplicationGroups"] == ["tf-rg"], "user group's replication groups")

ec.modify_user(UserId="tf-app", AccessString="on ~app:* +@all")
check(user_status("tf-app") == "modifying", "user modifying right after ModifyUser")
poll("tf-app active", lambda: user_status("tf-app") == "active")
check(ec.describe_users(UserId="tf-app")["Users"][0]["AccessString"] == "on ~app:* +@all", "access string")

try:
    ec.delete_user_group(UserGroupId="tf-users")
    check(False, "deleting a user group in use succeeded")
except ec.exceptions.InvalidUserGroupStateFault:
    pass
try:
    ec.describe_users(UserId="nobody")
    check(False, "describing a missing user succeeded")
except ec.exceptions.UserNotFoundFault:
    pass

# Destroy in reverse order.
ec.modify_replication_group(ReplicationGroupId="tf-rg", UserGroupIdsToRemove=["tf-users"], ApplyImmediately=True)
ec.get_waiter("replication_group_available").wait(ReplicationGroupId="tf-rg", WaiterConfig=fast)
check(ec.describe_replication_groups(ReplicationGroupId="tf-rg")["ReplicationGroups"][0]["UserGroupIds"] == [], "disassociated")
ec.delete_replication_group(ReplicationGroupId="tf-rg")
ec.get_waiter("replication_group_deleted").wait(ReplicationGroupId="tf-rg", WaiterConfig=fast)
ec.delete_user_group(UserGroupId="tf-users")
for uid in ("tf-app", "tf-default"):
    check(ec.delete_user(UserId=uid)["Status"] == "deleting", "deleting " + uid)
poll("users and groups gone", lambda: [x["UserId"] for x in ec.describe_users()["Users"]] == ["default"]
     and ec.describe_user_groups()["UserGroups"] == [])
print("boto3 rbac passed")
